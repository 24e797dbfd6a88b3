using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Events;
using Platform.Contracts.Tenants;
using Platform.Gateway.Tests.Support;
using Platform.Testing;
using Xunit.Abstractions;
using static Platform.Gateway.Tests.Support.TlsTenantSetup;

namespace Platform.Gateway.Tests.Webhooks;

/// <summary>
/// A real gateway process killed with SIGKILL while it holds WebSocket and plain TCP connections of two tenants, each
/// tenant with its lifecycle webhook on a real Kestrel receiver: once the silo's reaper has declared the gateway dead,
/// every connection has exactly one <c>disconnected</c> event after its <c>connected</c> one, numbered without gaps per
/// tenant, readable in <c>GET /v1/tenants/{slug}/events</c> and delivered (at least once, deduplicated by event id,
/// signed) to its own tenant's receiver only.
/// </summary>
public sealed class GatewayKillEventsTests(ITestOutputHelper output)
{
    private const string Secret = "whsec-kill-0123456789abcdef";
    private const string OtherSecret = "whsec-other-0123456789abcdef";
    private const int WebSockets = 3;
    private const int TcpClients = 2;

    /// <summary>The heartbeat timeout, a reaper pass, the sender's poll and five deliveries per tenant, on a loaded machine.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task KillDashNine_GatewayWithOpenConnections_EachGetsOneDisconnectedEventInOrderInTheApiAndAtTheReceiver()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret);
        await using var otherReceiver = await WebhookReceiver.StartAsync(OtherSecret);
        var range = FreePorts.Range(1);
        var siloSettings = SiloPortRange(range);
        siloSettings["Platform:Events:PollIntervalMilliseconds"] = "100";
        siloSettings["Platform:Events:RetryBaseMilliseconds"] = "200";
        siloSettings["Platform:Events:RetryMaxSeconds"] = "1";
        siloSettings["Platform:Events:RecheckSeconds"] = "1";
        await using var silo = await SiloFixture.StartAsync(siloSettings);
        await silo.CreateTenantAsync("acme", Hooked(receiver.Url, Secret));
        await silo.CreateTenantAsync("other", Hooked(otherReceiver.Url, OtherSecret));
        var tcpPort = (await AllocatePortAsync(silo, "acme", DedicatedPortProtocols.Tcp)).Port;

        await using var gateway = await StartGatewayAsync(silo.ClusterEndpoint, GatewayPortRange(range));
        var open = new List<IDisposable>();
        try
        {
            for (var i = 0; i < WebSockets; i++)
            {
                open.Add(await ConnectWsAsync(gateway, "acme", $"ws {i}"));
            }

            for (var i = 0; i < TcpClients; i++)
            {
                open.Add(await ConnectTcpAsync(tcpPort, $"tcp {i}"));
            }

            open.Add(await ConnectWsAsync(gateway, "other", "the other tenant's ws"));

            // Every connection recorded and delivered as connected before the kill.
            const int Acme = WebSockets + TcpClients;
            await UntilAsync(() => Task.FromResult(Distinct(receiver, LifecycleEventTypes.Connected).Count == Acme), $"{Acme} connected events at the receiver");
            await UntilAsync(() => Task.FromResult(Distinct(otherReceiver, LifecycleEventTypes.Connected).Count == 1), "1 connected event at the other tenant's receiver");
            var connectedIds = (await EventsAsync(silo, "acme")).Select(e => e.Event.ConnectionId).ToHashSet();
            Assert.Equal(Acme, connectedIds.Count);
            Assert.All(connectedIds, id => Assert.StartsWith(gateway.NodeId + ".", id, StringComparison.Ordinal));

            var sinceKill = Stopwatch.StartNew();
            await gateway.KillAsync();
            Assert.True(gateway.HasExited);

            // The reaper declares the node dead once its heartbeats are older than the timeout; the sender delivers.
            await UntilAsync(
                async () => (await EventsAsync(silo, "acme")).Count(e => e.Delivery.State == EventDeliveryStates.Delivered) == 2 * Acme,
                $"{2 * Acme} delivered events of acme in the events API");
            var apiAfter = sinceKill.Elapsed;
            await UntilAsync(() => Task.FromResult(Distinct(receiver, LifecycleEventTypes.Disconnected).Count == Acme), $"{Acme} disconnected events at the receiver");
            await UntilAsync(() => Task.FromResult(Distinct(otherReceiver, LifecycleEventTypes.Disconnected).Count == 1), "1 disconnected event at the other tenant's receiver");
            output.WriteLine($"after kill -9 of gateway {gateway.NodeId}: all {2 * Acme} events of acme delivered after {apiAfter.TotalSeconds:F1} s");

            var events = await EventsAsync(silo, "acme");
            AssertLifecycle(events, connectedIds, "acme");
            var otherEvents = await EventsAsync(silo, "other");
            AssertLifecycle(otherEvents, otherEvents.Select(e => e.Event.ConnectionId).ToHashSet(), "other");
            Assert.Single(otherEvents.Select(e => e.Event.ConnectionId).Distinct());

            AssertReceived(receiver, events, "acme");
            AssertReceived(otherReceiver, otherEvents, "other");

            // The directory agrees: nothing of the dead gateway is open.
            Assert.Empty(await Wait.ListAsync(silo, "acme"));
            Assert.Empty(await Wait.ListAsync(silo, "other"));
        }
        catch
        {
            output.WriteLine(gateway.Output);
            throw;
        }
        finally
        {
            foreach (var client in open)
            {
                client.Dispose();
            }
        }
    }

    /// <summary>Per tenant: numbers 1..2n without gaps, each connection one connected then one disconnected (gateway lost).</summary>
    private static void AssertLifecycle(IReadOnlyList<EventResponse> events, HashSet<string> connectionIds, string slug)
    {
        Assert.Equal(Enumerable.Range(1, 2 * connectionIds.Count).Select(i => (long)i), events.Select(e => e.Event.Sequence));
        Assert.All(events, e => Assert.Equal(slug, e.Event.Tenant));
        Assert.All(events, e => Assert.Equal(EventDeliveryStates.Delivered, e.Delivery.State));
        foreach (var id in connectionIds)
        {
            var mine = events.Where(e => e.Event.ConnectionId == id).ToList();
            Assert.Equal([LifecycleEventTypes.Connected, LifecycleEventTypes.Disconnected], mine.Select(e => e.Event.Type));
            Assert.True(mine[0].Event.Sequence < mine[1].Event.Sequence);
            Assert.Equal("gateway lost", mine[1].Event.CloseReason);
        }

        Assert.Equal(connectionIds.Order(StringComparer.Ordinal), events.Select(e => e.Event.ConnectionId).Distinct().Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// At the receiver, deduplicated by event id: exactly the recorded events, every request signed and its body the
    /// recorded event, first arrivals in sequence order (so each connection's connected came before its disconnected).
    /// </summary>
    private static void AssertReceived(WebhookReceiver receiver, IReadOnlyList<EventResponse> events, string slug)
    {
        var all = receiver.Posts;
        Assert.All(all, r => Assert.True(r.SignatureValid, $"bad signature on event {r.EventId}"));
        Assert.All(all, r => Assert.Equal(slug, r.Tenant));
        var first = all.GroupBy(r => r.EventId).Select(g => g.First()).ToList();
        Assert.Equal(events.Select(e => e.Event.Id.ToString()), first.Select(r => r.EventId));
        foreach (var (received, recorded) in first.Zip(events))
        {
            var json = received.Json;
            Assert.Equal(recorded.Event.Sequence, json.GetProperty("sequence").GetInt64());
            Assert.Equal(recorded.Event.Type, json.GetProperty("type").GetString());
            Assert.Equal(recorded.Event.ConnectionId, json.GetProperty("connectionId").GetString());
            Assert.Equal(recorded.Event.CloseReason, json.GetProperty("closeReason").GetString());
        }
    }

    /// <summary>
    /// The gateway as a process with the test gateways' settings (<see cref="TestGateway.Settings"/>) on free loopback
    /// ports, its snapshot key as a secret file; started once it has registered and serves a configuration.
    /// <paramref name="settings"/> are <c>Platform:…</c> keys that replace these.
    /// </summary>
    private static Task<GatewayProcess> StartGatewayAsync(string siloEndpoint, Dictionary<string, string?> settings)
    {
        var adminPort = FreePorts.Tcp();
        var values = TestGateway.Settings(siloEndpoint);
        values["Platform:NodeName"] = "gwproc";
        values["Platform:WsPort"] = FreePorts.Tcp().ToString(CultureInfo.InvariantCulture);
        values["Platform:WssPort"] = FreePorts.Tcp().ToString(CultureInfo.InvariantCulture);
        values["Platform:TlsPort"] = FreePorts.Tcp().ToString(CultureInfo.InvariantCulture);
        values["Platform:DtlsPort"] = "-1";
        values["Platform:AdminPort"] = adminPort.ToString(CultureInfo.InvariantCulture);
        values["Logging:LogLevel:Default"] = "Warning";
        foreach (var (key, value) in settings)
        {
            values[key] = value;
        }

        var secrets = new Dictionary<string, string> { ["Platform__SnapshotKey"] = TestGateway.SnapshotKey };
        return GatewayProcess.StartAsync("gateway", values, secrets, GatewayProcess.Serving(adminPort));
    }

    private static HashSet<string> Distinct(WebhookReceiver receiver, string type) =>
        receiver.Posts.Where(r => r.Type == type).Select(r => r.EventId).ToHashSet(StringComparer.Ordinal);

    private static TenantConfig Hooked(string url, string secret) => new()
    {
        Delivery = new DeliveryConfig { Webhook = new WebhookConfig { Url = url, Secret = secret, TimeoutSeconds = 5 } },
    };

    private static async Task<IReadOnlyList<EventResponse>> EventsAsync(SiloFixture silo, string slug)
    {
        var page = await silo.Operator.GetFromJsonAsync<EventPage>(new Uri($"/v1/tenants/{slug}/events?after=0&limit=1000", UriKind.Relative), PlatformJson.Options);
        return page!.Items;
    }

    /// <summary>Opens a WebSocket through the gateway (retrying while the gateway still takes up the tenant) and checks its echo.</summary>
    private static async Task<ClientWebSocket> ConnectWsAsync(GatewayProcess gateway, string slug, string what)
    {
        ClientWebSocket? socket = null;
        await UntilAsync(async () =>
        {
            var candidate = new ClientWebSocket();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await candidate.ConnectAsync(new Uri(string.Create(CultureInfo.InvariantCulture, $"ws://127.0.0.1:{gateway.WsPort}/t/{slug}/")), timeout.Token);
                socket = candidate;
                return true;
            }
            catch (WebSocketException)
            {
                candidate.Dispose();
                return false;
            }
        }, $"{what} to be admitted");
        await WsClient.SendTextAsync(socket!, what);
        Assert.Equal(what, await WsClient.ReceiveTextAsync(socket!));
        return socket!;
    }

    /// <summary>Opens a plain TCP connection to the tenant's dedicated port (retrying until the gateway listens) and checks its echo.</summary>
    private static async Task<TcpClient> ConnectTcpAsync(int port, string what)
    {
        TcpClient? client = null;
        await UntilAsync(async () =>
        {
            var candidate = new TcpClient();
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                await candidate.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
                client = candidate;
                return true;
            }
            catch (SocketException)
            {
                candidate.Dispose();
                return false;
            }
        }, $"the dedicated TCP port to accept {what}");
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var stream = client!.GetStream();
        var line = Encoding.ASCII.GetBytes(what + "\n");
        await stream.WriteAsync(line, limit.Token);
        var echoed = new byte[line.Length];
        await stream.ReadExactlyAsync(echoed, limit.Token);
        Assert.Equal(what + "\n", Encoding.ASCII.GetString(echoed));
        return client;
    }

    private static async Task UntilAsync(Func<Task<bool>> condition, string what)
    {
        var limit = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(limit.Elapsed < Patience, $"Timed out after {Patience.TotalSeconds} s waiting for {what}.");
            await Task.Delay(100);
        }
    }
}
