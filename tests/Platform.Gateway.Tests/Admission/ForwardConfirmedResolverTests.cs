using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using Platform.Gateway.Admission;
using Platform.Gateway.Hosting;
using Platform.Gateway.Tests.Support;
using Platform.Testing;

namespace Platform.Gateway.Tests.Admission;

/// <summary>The DnsClient resolver against a real dnsmasq on loopback.</summary>
public sealed class ForwardConfirmedResolverTests
{
    private static ForwardConfirmedResolver Resolver(string server, int timeoutMilliseconds = 1000)
    {
        var options = new GatewayOptions { ReverseDnsTimeoutMilliseconds = timeoutMilliseconds };
        options.DnsServers.Add(server);
        return new ForwardConfirmedResolver(Options.Create(options));
    }

    [Fact]
    public async Task ResolveAsync_PtrClaimWithoutMatchingForwardRecord_NoName()
    {
        await using var dns = await Dnsmasq.StartAsync(
            ["--ptr-record=2.0.0.127.in-addr.arpa,trusted.example.com", "--host-record=trusted.example.com,127.0.0.50"], ["example.com"]);

        var result = await Resolver(dns.Server).ResolveAsync(IPAddress.Parse("127.0.0.2"), CancellationToken.None);

        Assert.Equal(ReverseDnsOutcome.Answered, result.Outcome);
        Assert.Empty(result.Names);
        await dns.SyncAsync();
        Assert.Equal(1, dns.Queries("A", "trusted.example.com"));
    }

    [Fact]
    public async Task ResolveAsync_ForwardConfirmed_NameAndTtl()
    {
        await using var dns = await Dnsmasq.StartAsync(["--host-record=device.example.com,127.0.0.3"], ["example.com"], ttlSeconds: 120);

        var result = await Resolver(dns.Server).ResolveAsync(IPAddress.Parse("127.0.0.3"), CancellationToken.None);

        Assert.Equal(ReverseDnsOutcome.Answered, result.Outcome);
        Assert.Equal(["device.example.com"], result.Names);
        Assert.Equal(TimeSpan.FromSeconds(120), result.TimeToLive);
    }

    [Fact]
    public async Task ResolveAsync_SeveralPtrNames_KeepsOnlyTheConfirmedOnes()
    {
        await using var dns = await Dnsmasq.StartAsync(
            [
                "--ptr-record=4.0.0.127.in-addr.arpa,claimed.example.com",
                "--ptr-record=4.0.0.127.in-addr.arpa,real.example.com",
                "--host-record=claimed.example.com,127.0.0.60",
                "--host-record=real.example.com,127.0.0.4",
            ],
            ["example.com"]);

        var result = await Resolver(dns.Server).ResolveAsync(IPAddress.Parse("127.0.0.4"), CancellationToken.None);

        Assert.Equal(["real.example.com"], result.Names);
        await dns.SyncAsync();
        Assert.Equal(1, dns.Queries("A", "claimed.example.com"));
    }

    [Fact]
    public async Task ResolveAsync_ManyPtrNames_AtMostFourForwardQueries()
    {
        var records = Enumerable.Range(1, 12).Select(i => $"--ptr-record=5.0.0.127.in-addr.arpa,n{i}.example.com").ToArray();
        await using var dns = await Dnsmasq.StartAsync(records, ["example.com"]);

        var result = await Resolver(dns.Server).ResolveAsync(IPAddress.Parse("127.0.0.5"), CancellationToken.None);

        Assert.Empty(result.Names);
        await dns.SyncAsync();
        Assert.Equal(1, dns.Queries("PTR"));
        Assert.Equal(ForwardConfirmedResolver.MaxNamesPerAddress, dns.Queries("A"));
    }

    [Fact]
    public async Task ResolveAsync_NoPtrRecord_AnsweredWithoutNamesAndNoForwardQuery()
    {
        await using var dns = await Dnsmasq.StartAsync([], ["example.com"]);

        var result = await Resolver(dns.Server).ResolveAsync(IPAddress.Parse("127.0.0.6"), CancellationToken.None);

        Assert.Equal(ReverseDnsOutcome.Answered, result.Outcome);
        Assert.Empty(result.Names);
        await dns.SyncAsync();
        Assert.Equal(0, dns.Queries("A"));
    }

    [Fact]
    public async Task ResolveAsync_Ipv6Client_ConfirmedByAaaa()
    {
        await using var dns = await Dnsmasq.StartAsync(["--host-record=v6.example.com,::1"], ["example.com"]);

        var result = await Resolver(dns.Server).ResolveAsync(IPAddress.IPv6Loopback, CancellationToken.None);

        Assert.Equal(["v6.example.com"], result.Names);
        await dns.SyncAsync();
        Assert.Equal(1, dns.Queries("AAAA", "v6.example.com"));
        Assert.Equal(0, dns.Queries("A"));
    }

    [Fact]
    public async Task ResolveAsync_ForwardQueryRefused_Failed()
    {
        // example.net is no zone of this server: it answers REFUSED, so the claim can be neither confirmed nor denied.
        await using var dns = await Dnsmasq.StartAsync(["--ptr-record=7.0.0.127.in-addr.arpa,host.example.net"], ["example.com"]);

        var result = await Resolver(dns.Server).ResolveAsync(IPAddress.Parse("127.0.0.7"), CancellationToken.None);

        Assert.Equal(ReverseDnsOutcome.Failed, result.Outcome);
        Assert.Empty(result.Names);
    }

    [Fact]
    public async Task ResolveAsync_ServerNeverAnswers_FailedWithinTheDeadline()
    {
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var resolver = Resolver(silent.LocalEndPoint!.ToString()!, timeoutMilliseconds: 200);

        var clock = Stopwatch.StartNew();
        var result = await resolver.ResolveAsync(IPAddress.Parse("127.0.0.8"), CancellationToken.None);

        Assert.Equal(ReverseDnsOutcome.Failed, result.Outcome);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Assert.True(silent.Available > 0, "the query reached the silent server");
    }

    [Fact]
    public void NameServers_Configured_AskedInOrderWithPort53ByDefault()
    {
        var options = new GatewayOptions();
        options.DnsServers.AddRange(["127.0.0.1:5353", "127.0.0.2", "[::1]:5300"]);

        var resolver = new ForwardConfirmedResolver(Options.Create(options));

        Assert.Equal(
            [IPEndPoint.Parse("127.0.0.1:5353"), IPEndPoint.Parse("127.0.0.2:53"), IPEndPoint.Parse("[::1]:5300")],
            resolver.NameServers);
    }

    [Fact]
    public void Options_BadDnsServer_Refused()
    {
        var options = new GatewayOptions { SnapshotKey = TestGateway.SnapshotKey };
        options.DnsServers.Add("dns.example.com");

        var error = Assert.Throws<OptionsValidationException>(() => new ForwardConfirmedResolver(Options.Create(options)));
        Assert.Contains("dns.example.com", error.Message, StringComparison.Ordinal);
        // The same check stops the gateway at start (ValidateOnStart runs the data annotations).
        var results = new List<ValidationResult>();
        Assert.False(Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true));
        Assert.Contains(results, r => r.MemberNames.Contains(nameof(GatewayOptions.DnsServers)));

        options.DnsServers.Clear();
        options.DnsServers.AddRange(["127.0.0.1", "127.0.0.1:5353", "[::1]:53", "::1"]);
        Assert.True(Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true));
    }
}
