using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Stats;
using Platform.Gateway.Admission;
using Platform.Gateway.Tests.Support;
using Platform.Testing;

namespace Platform.Gateway.Tests.EndToEnd;

/// <summary>
/// Host-name entries of access lists against a real gateway and silo, with a real dnsmasq on loopback serving the
/// PTR and A records; clients connect from chosen 127.0.0.x source addresses.
/// </summary>
public sealed class ReverseDnsAccessTests
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(20);

    private static Dictionary<string, string?> Settings(string dnsServer, params (string Key, string Value)[] more)
    {
        var settings = new Dictionary<string, string?> { ["Platform:DnsServers:0"] = dnsServer };
        foreach (var (key, value) in more)
        {
            settings[$"Platform:{key}"] = value;
        }

        return settings;
    }

    private static Task<(int Status, string Head, string Body)> ConnectAsync(TestGateway gateway, string slug, string source) =>
        RawHttp.UpgradeAsync(gateway.WsEndPoint, $"{slug}.platform.test", "/", IPAddress.Parse(source));

    /// <summary>Waits until the gateway has no reverse lookup running and dnsmasq saw the queries expected.</summary>
    private static Task LookupsDoneAsync(TestGateway gateway, Func<bool> queriesSeen) =>
        Wait.UntilAsync(() => queriesSeen() && gateway.Services.GetRequiredService<ReverseDnsCache>().Running == 0, "the reverse lookups to end");

    [Fact]
    public async Task Allowed_PtrClaimWithoutForwardRecord_NotAllowed_ForwardConfirmedNameAdmitted()
    {
        await using var dns = await Dnsmasq.StartAsync(
            [
                // 127.0.0.2's PTR claims a trusted name, but that name's A record points elsewhere.
                "--ptr-record=2.0.0.127.in-addr.arpa,trusted.example.com",
                "--host-record=trusted.example.com,127.0.0.50",
                "--host-record=device.example.com,127.0.0.3",
            ],
            ["example.com"]);
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig { Access = new AccessConfig { AllowedClients = "*.example.com" } });
        await using var gateway = await silo.StartGatewayAsync(settings: Settings(dns.Server));
        await gateway.WaitForTenantAsync("acme");

        // Until the names are confirmed only address entries could admit: asked to retry, not admitted.
        var spoofFirst = await ConnectAsync(gateway, "acme", "127.0.0.2");
        var deviceFirst = await ConnectAsync(gateway, "acme", "127.0.0.3");
        Assert.Equal(503, spoofFirst.Status);
        Assert.Equal(503, deviceFirst.Status);

        await LookupsDoneAsync(gateway, () => dns.Queries("A", "trusted.example.com") == 1 && dns.Queries("A", "device.example.com") == 1);
        var spoof = await ConnectAsync(gateway, "acme", "127.0.0.2");
        var device = await ConnectAsync(gateway, "acme", "127.0.0.3");

        Assert.Equal(403, spoof.Status);
        Assert.Contains("\"code\":\"not_allowed\"", spoof.Body, StringComparison.Ordinal);
        Assert.Equal(101, device.Status);
        await dns.SyncAsync();
        Assert.Equal(1, dns.Queries("PTR", "2.0.0.127.in-addr.arpa"));
    }

    [Fact]
    public async Task Blocked_HostNameEntry_RefusedWhilePendingThenPerConfirmedAnswer()
    {
        await using var dns = await Dnsmasq.StartAsync(
            [
                "--host-record=device.bad.example,127.0.0.4",
                // 127.0.0.5 claims a blocked name it does not hold: the claim neither blocks nor admits it by name.
                "--ptr-record=5.0.0.127.in-addr.arpa,other.bad.example",
                "--host-record=other.bad.example,127.0.0.51",
            ],
            ["bad.example"]);
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig { Access = new AccessConfig { BlockedClients = "*.bad.example" } });
        await using var gateway = await silo.StartGatewayAsync(settings: Settings(dns.Server));
        await gateway.WaitForTenantAsync("acme");

        var blockedFirst = await ConnectAsync(gateway, "acme", "127.0.0.4");
        var claimFirst = await ConnectAsync(gateway, "acme", "127.0.0.5");
        Assert.Equal(503, blockedFirst.Status);
        Assert.Contains("Retry-After: 1", blockedFirst.Head, StringComparison.Ordinal);
        Assert.Contains("\"code\":\"reverse_dns_pending\"", blockedFirst.Body, StringComparison.Ordinal);
        Assert.Equal(503, claimFirst.Status);

        await LookupsDoneAsync(gateway, () => dns.Queries("A") == 2);
        var blocked = await ConnectAsync(gateway, "acme", "127.0.0.4");
        var claim = await ConnectAsync(gateway, "acme", "127.0.0.5");

        Assert.Equal(403, blocked.Status);
        Assert.Equal(101, claim.Status);
        var report = await WaitForReportAsync(silo, r => Count(r, "reverse_dns_pending") == 2 && Count(r, "blocked") == 1);
        Assert.Contains(report.Buckets.Items, b => b is { Tenant: "acme", Protocol: "ws", Reason: "reverse_dns_pending", Count: 2 });
    }

    [Fact]
    public async Task Blocked_DnsServerSilent_RefusedAtOnceWithoutWaitingOnDns()
    {
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        silent.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig { Access = new AccessConfig { AllowedClients = "127.0.0.0/8", BlockedClients = "*.bad.example" } });
        await using var gateway = await silo.StartGatewayAsync(settings: Settings(silent.LocalEndPoint!.ToString()!, ("ReverseDnsTimeoutMilliseconds", "10000")));
        await gateway.WaitForTenantAsync("acme");

        var clock = Stopwatch.StartNew();
        var first = await ConnectAsync(gateway, "acme", "127.0.0.6");
        var second = await ConnectAsync(gateway, "acme", "127.0.0.6");
        clock.Stop();

        Assert.Equal(503, first.Status);
        Assert.Equal(503, second.Status);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"two refusals took {clock.Elapsed} while DNS queries wait up to 10 s");
        await Wait.UntilAsync(() => silent.Available > 0, "the PTR query to reach the silent server");
    }

    [Fact]
    public async Task Limits_FloodOfSourceAddresses_LookupsBoundedAndOtherTenantStillResolved()
    {
        const int perSecond = 5;
        await using var dns = await Dnsmasq.StartAsync(["--host-record=device.bad.example,127.0.3.1"], ["bad.example"]);
        await using var silo = await SiloFixture.StartAsync();
        var access = new TenantConfig { Access = new AccessConfig { BlockedClients = "*.bad.example" } };
        await silo.CreateTenantAsync("flood", access);
        await silo.CreateTenantAsync("other", access);
        await using var gateway = await silo.StartGatewayAsync(settings: Settings(dns.Server,
            ("ReverseDnsLookupsPerSecondPerTenant", $"{perSecond}"),
            ("ReverseDnsLookupsInFlightPerTenant", "2"),
            ("ReverseDnsLookupsPerSecond", $"{perSecond * 2}")));
        await gateway.WaitForTenantAsync("flood");
        await gateway.WaitForTenantAsync("other");

        // Four clients connect to "flood" from ever new source addresses, as fast as the gateway answers.
        using var stop = new CancellationTokenSource();
        var attempts = 0;
        var clock = Stopwatch.StartNew();
        var flood = Enumerable.Range(0, 4).Select(worker => Task.Run(async () =>
        {
            for (var i = worker; !stop.IsCancellationRequested; i += 4)
            {
                await ConnectAsync(gateway, "flood", $"127.0.{1 + (i / 250 % 2)}.{1 + (i % 250)}");
                Interlocked.Increment(ref attempts);
            }
        })).ToArray();

        // Meanwhile the other tenant's client gets its lookup, and its confirmed name blocks it.
        var otherStatus = 0;
        using (var limit = new CancellationTokenSource(WaitLimit))
        {
            while ((otherStatus = (await ConnectAsync(gateway, "other", "127.0.3.1")).Status) == 503)
            {
                await Task.Delay(50, limit.Token);
            }
        }

        while (clock.Elapsed < TimeSpan.FromSeconds(3))
        {
            await Task.Delay(50);
        }

        await stop.CancelAsync();
        await Task.WhenAll(flood);
        var elapsed = clock.Elapsed;
        await Wait.UntilAsync(() => gateway.Services.GetRequiredService<ReverseDnsCache>().Running == 0, "the last lookups to end");

        Assert.Equal(403, otherStatus);
        await dns.SyncAsync();
        var floodLookups = FloodPtrNames(dns.Log);
        var allowed = perSecond + (perSecond * (int)Math.Ceiling(elapsed.TotalSeconds));
        Assert.True(floodLookups <= allowed, $"{floodLookups} PTR lookups for the flood in {elapsed.TotalSeconds:0.0} s; at most {allowed} allowed");
        Assert.True(attempts > allowed * 2, $"the flood made only {attempts} attempts");
        Assert.True(floodLookups > 0, "the flood's tenant got no lookup at all");
    }

    /// <summary>Distinct PTR names queried for the flood's source addresses (127.0.1.x and 127.0.2.x).</summary>
    private static int FloodPtrNames(string log) =>
        log.Split('\n')
            .Where(l => l.Contains("query[PTR] ", StringComparison.Ordinal))
            .Select(l => l[(l.IndexOf("query[PTR] ", StringComparison.Ordinal) + 11)..].Split(' ')[0])
            .Where(n => n.EndsWith(".1.0.127.in-addr.arpa", StringComparison.Ordinal) || n.EndsWith(".2.0.127.in-addr.arpa", StringComparison.Ordinal))
            .Distinct()
            .Count();

    private static long Count(RefusalReport report, string reason) =>
        report.ByReason.Where(r => r.Reason == reason).Sum(r => r.Count);

    private static async Task<RefusalReport> WaitForReportAsync(SiloFixture silo, Func<RefusalReport, bool> condition)
    {
        using var limit = new CancellationTokenSource(WaitLimit);
        while (true)
        {
            var report = (await silo.Operator.GetFromJsonAsync<RefusalReport>(new Uri("/v1/tenants/acme/refusals", UriKind.Relative), PlatformJson.Options))!;
            if (condition(report))
            {
                return report;
            }

            Assert.False(limit.IsCancellationRequested,
                "refusals did not reach the expected counts; they hold: " + string.Join(", ", report.ByReason.Select(r => $"{r.Reason}={r.Count}")));
            await Task.Delay(50);
        }
    }
}
