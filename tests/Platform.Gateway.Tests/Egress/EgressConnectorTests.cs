using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Platform.Contracts.Problems;
using Platform.Gateway.Admission;
using Platform.Gateway.Delivery;
using Platform.Gateway.Egress;
using Platform.Gateway.Hosting;
using Platform.Gateway.Tests.Support;
using Platform.Testing;

namespace Platform.Gateway.Tests.Egress;

/// <summary>
/// <see cref="EgressConnector"/> with real loopback sockets: what it resolves, what it checks, where the socket goes.
/// Addresses outside loopback are only ever judged (<see cref="EgressConnector.ResolveAsync"/>), never dialled.
/// </summary>
public sealed class EgressConnectorTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task ConnectAsync_AnswerChangesBetweenLookups_SocketGoesToTheCheckedAddressOnly()
    {
        using var allowed = Listen(IPAddress.Loopback, 0);
        var port = ((IPEndPoint)allowed.LocalEndpoint).Port;
        using var forbidden = Listen(IPAddress.Parse("127.0.0.2"), port);
        // A rebinding name: the first answer passes the check, every later one names a forbidden address.
        var resolver = new ScriptedResolver(_ => calls => calls == 1 ? [IPAddress.Loopback] : [IPAddress.Parse("127.0.0.2")]);
        var connector = TestEgress.Connector(allowedRanges: ["127.0.0.1/32"], resolver: resolver);

        using (var socket = await connector.ConnectAsync("acme", "rebind.example", port, SocketType.Stream, CancellationToken.None))
        {
            Assert.Equal(new IPEndPoint(IPAddress.Loopback, port), socket.RemoteEndPoint);
            using var accepted = await allowed.AcceptSocketAsync().WaitAsync(Wait);
        }

        var refused = await Assert.ThrowsAsync<BackendUnreachableException>(
            () => connector.ConnectAsync("acme", "rebind.example", port, SocketType.Stream, CancellationToken.None));
        Assert.Equal(RefusalReason.BackendForbidden, refused.Refusal);
        Assert.Equal(2, resolver.Calls("rebind.example"));
        Assert.False(forbidden.Pending());
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.1")]
    [InlineData("0x7f.1")]
    [InlineData("0177.0.0.1")]
    [InlineData("2130706433")]
    [InlineData("127.0.0.1.")]
    [InlineData("localhost")]
    [InlineData("LocalHost.")]
    [InlineData("db.localhost")]
    [InlineData("::ffff:127.0.0.1")]
    [InlineData("[::ffff:7f00:1]")]
    public async Task ConnectAsync_LoopbackInAnySpellingUnderTheDefaultPolicy_ForbiddenAndNothingConnects(string host)
    {
        using var listener = Listen(IPAddress.Loopback, 0);
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var resolver = new ScriptedResolver(name => throw new InvalidOperationException($"'{name}' must not reach a resolver."));
        var connector = TestEgress.Connector(allowedRanges: [], resolver: resolver);

        var refused = await Assert.ThrowsAsync<BackendUnreachableException>(
            () => connector.ConnectAsync("acme", host, port, SocketType.Stream, CancellationToken.None));

        Assert.Equal(RefusalReason.BackendForbidden, refused.Refusal);
        Assert.False(listener.Pending());
    }

    [Theory]
    [InlineData("169.254.169.254")]
    [InlineData("2852039166")]
    [InlineData("0xa9fea9fe")]
    [InlineData("0251.0376.0251.0376")]
    [InlineData("::ffff:169.254.169.254")]
    [InlineData("64:ff9b::a9fe:a9fe")]
    [InlineData("2002:a9fe:a9fe::1")]
    [InlineData("[fd00:ec2::254]")]
    [InlineData("fe80::1%1")]
    [InlineData("10.0.0.1")]
    [InlineData("0.0.0.0")]
    [InlineData("0")]
    [InlineData("::")]
    [InlineData("224.0.0.1")]
    [InlineData("1.2.3.999")]
    public async Task ResolveAsync_MetadataPrivateAndUnspecifiedSpellings_ForbiddenBeforeAnyConnect(string host)
    {
        var connector = TestEgress.Connector(allowedRanges: [], resolver: new ScriptedResolver(name => throw new InvalidOperationException(name)));

        var refused = await Assert.ThrowsAsync<BackendUnreachableException>(() => connector.ResolveAsync("acme", host, 80, CancellationToken.None));

        Assert.Equal(RefusalReason.BackendForbidden, refused.Refusal);
    }

    [Fact]
    public async Task ResolveAsync_NameWithMixedAnswers_KeepsOnlyAllowedAddressesOnce()
    {
        var resolver = new ScriptedResolver(_ => _ => [IPAddress.Parse("10.0.0.1"), IPAddress.Loopback, IPAddress.Parse("::ffff:127.0.0.1"), IPAddress.Parse("169.254.169.254")]);
        var connector = TestEgress.Connector(allowedRanges: ["127.0.0.0/8"], resolver: resolver);

        var endPoints = await connector.ResolveAsync("acme", "mixed.example", 5000, CancellationToken.None);

        Assert.Equal([new IPEndPoint(IPAddress.Loopback, 5000)], endPoints);
    }

    [Fact]
    public async Task ResolveAsync_NameThatDoesNotResolve_UnreachableNotForbidden()
    {
        var resolver = new ScriptedResolver(_ => throw new SocketException((int)SocketError.HostNotFound));
        var connector = TestEgress.Connector(resolver: resolver);

        var failed = await Assert.ThrowsAsync<BackendUnreachableException>(() => connector.ResolveAsync("acme", "nowhere.example", 80, CancellationToken.None));

        Assert.Equal(RefusalReason.BackendUnreachable, failed.Refusal);
    }

    [Fact]
    public async Task ConnectAsync_GatewaysOwnPorts_RefusedEvenWithLoopbackAllowed_OtherPortsConnect()
    {
        using var ownWs = Listen(IPAddress.Loopback, 0);
        var wsPort = ((IPEndPoint)ownWs.LocalEndpoint).Port;
        using var ownDedicated = Listen(IPAddress.Loopback, 0);
        var dedicatedPort = ((IPEndPoint)ownDedicated.LocalEndpoint).Port;
        await using var backend = new TcpEchoBackend();
        var options = new GatewayOptions { WsPort = wsPort, DedicatedPortMin = dedicatedPort, DedicatedPortMax = dedicatedPort };
        var connector = TestEgress.Connector(allowedRanges: ["127.0.0.0/8", "::1/128"], options: options);

        foreach (var (host, port) in new[] { ("127.0.0.1", wsPort), ("127.0.0.2", wsPort), ("localhost", wsPort), ("0x7f.1", dedicatedPort) })
        {
            var refused = await Assert.ThrowsAsync<BackendUnreachableException>(
                () => connector.ConnectAsync("acme", host, port, SocketType.Stream, CancellationToken.None));
            Assert.Equal(RefusalReason.BackendForbidden, refused.Refusal);
        }

        Assert.False(ownWs.Pending());
        Assert.False(ownDedicated.Pending());
        using var socket = await connector.ConnectAsync("acme", "127.0.0.1", backend.Port, SocketType.Stream, CancellationToken.None);
        Assert.True(socket.Connected);
    }

    [Fact]
    public void Check_PublicAddressOfTheGatewaysOwnInterface_RefusedUnlessAnAllowedRangeNamesIt_OwnPortsAlways()
    {
        var own = IPAddress.Parse("8.8.8.8");
        var options = new GatewayOptions { WsPort = 8080 };
        var byDefault = TestEgress.Connector(allowedRanges: [], options: options, interfaceAddresses: [own]);
        var opened = TestEgress.Connector(allowedRanges: ["8.8.8.8/32"], options: options, interfaceAddresses: [own]);

        Assert.Equal("OwnAddress", byDefault.Check(own, 5432));
        Assert.Equal("OwnAddress", byDefault.Check(IPAddress.Parse("::ffff:8.8.8.8"), 5432));
        Assert.Null(byDefault.Check(IPAddress.Parse("8.8.4.4"), 5432));
        Assert.Null(opened.Check(own, 5432));
        Assert.Equal("OwnListener", opened.Check(own, 8080));
        Assert.Equal("OwnListener", opened.Check(own, 20500));
    }

    [Fact]
    public void IsLocal_EveryAddressOfThisHostsInterfaces_Local()
    {
        var settings = Options.Create(new GatewayOptions());
        var own = new OwnEndpoints(new GatewayListeners(), settings, TimeProvider.System);
        var addresses = System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .SelectMany(n => n.GetIPProperties().UnicastAddresses).Select(u => u.Address).ToList();

        Assert.NotEmpty(addresses);
        Assert.All(addresses, a => Assert.True(own.IsLocal(a), a.ToString()));
        Assert.True(own.IsLocal(IPAddress.Parse("127.3.4.5")));
        Assert.True(own.IsLocal(IPAddress.Any));
        Assert.False(own.IsLocal(IPAddress.Parse("192.0.2.44")));
    }

    [Fact]
    public async Task ConnectAsync_ForbiddenOverAndOver_OneWarningPerTenantPerMinute()
    {
        var clock = new ManualTimeProvider();
        var logger = new CapturingLogger();
        var connector = TestEgress.Connector(allowedRanges: [], time: clock, logger: logger);

        for (var i = 0; i < 5; i++)
        {
            await Assert.ThrowsAsync<BackendUnreachableException>(() => connector.ResolveAsync("acme", "127.0.0.1", 5432, CancellationToken.None));
        }

        await Assert.ThrowsAsync<BackendUnreachableException>(() => connector.ResolveAsync("beta", "169.254.169.254", 80, CancellationToken.None));
        clock.Advance(TimeSpan.FromSeconds(59));
        await Assert.ThrowsAsync<BackendUnreachableException>(() => connector.ResolveAsync("acme", "10.0.0.1", 22, CancellationToken.None));
        clock.Advance(TimeSpan.FromSeconds(2));
        await Assert.ThrowsAsync<BackendUnreachableException>(() => connector.ResolveAsync("acme", "10.0.0.1", 22, CancellationToken.None));

        Assert.Equal(3, logger.Warnings.Count);
        Assert.Contains("acme", logger.Warnings[0], StringComparison.Ordinal);
        Assert.Contains("Loopback", logger.Warnings[0], StringComparison.Ordinal);
        Assert.Contains("beta", logger.Warnings[1], StringComparison.Ordinal);
        Assert.Contains("LinkLocal", logger.Warnings[1], StringComparison.Ordinal);
        Assert.Contains("10.0.0.1", logger.Warnings[2], StringComparison.Ordinal);
    }

    private static TcpListener Listen(IPAddress address, int port)
    {
        var listener = new TcpListener(address, port);
        listener.Start();
        return listener;
    }

    /// <summary>Answers per name from a script, counting the calls per name.</summary>
    private sealed class ScriptedResolver(Func<string, Func<int, IPAddress[]>> script) : IEgressResolver
    {
        private readonly ConcurrentDictionary<string, int> _calls = new(StringComparer.Ordinal);

        public int Calls(string name) => _calls.GetValueOrDefault(name);

        public Task<IPAddress[]> ResolveAsync(string name, CancellationToken cancellationToken)
        {
            var call = _calls.AddOrUpdate(name, 1, static (_, n) => n + 1);
            return Task.FromResult(script(name)(call));
        }
    }

    private sealed class CapturingLogger : ILogger<EgressConnector>
    {
        private readonly ConcurrentQueue<string> _warnings = new();

        public IReadOnlyList<string> Warnings => [.. _warnings];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.Warning)
            {
                _warnings.Enqueue(formatter(state, exception));
            }
        }
    }
}
