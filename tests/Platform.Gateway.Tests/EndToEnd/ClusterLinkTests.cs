using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Platform.Contracts;
using Platform.Contracts.Connections;
using Platform.Contracts.Gateways;
using Platform.Contracts.Tenants;
using Platform.Gateway.Admission;
using Platform.Gateway.Silo;
using Platform.Gateway.Tenants;
using Platform.Gateway.Tests.Support;
using Platform.Testing;
using Xunit.Abstractions;

namespace Platform.Gateway.Tests.EndToEnd;

/// <summary>
/// The gateway as a cluster client, end to end: a real silo over real PostgreSQL, a real gateway, a real client (Node's
/// <c>ws</c>). REST commands reach the client through the gateway's observer; a gateway started with no silo serves
/// from its snapshot at once and registers when one appears; a silo started again reaches the gateway's connections
/// again once the gateway's heartbeats have renewed its observer.
/// </summary>
public sealed class ClusterLinkTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task RestCommands_NodeClient_ReachItThroughTheGatewaysObserver()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");
        await gateway.WaitRegisteredAsync();
        await using var node = Listen(gateway.WsUri("acme", "listen"));
        await node.WaitForTextAsync("open");
        var listed = await silo.WaitForConnectionAsync("acme", c => c.WebSocket?.Path == "/t/acme/listen");

        using (var send = await PostAsync(silo, $"/v1/tenants/acme/connections/{listed.Id}/messages", new SendMessageRequest(Text: "through the observer")))
        {
            Assert.Equal(HttpStatusCode.Accepted, send.StatusCode);
        }

        await node.WaitForTextAsync("text through the observer");
        using (var send = await PostAsync(silo, $"/v1/tenants/acme/connections/{listed.Id}/messages", new SendMessageRequest(Binary: Convert.ToBase64String([1, 2, 3]))))
        {
            Assert.Equal(HttpStatusCode.Accepted, send.StatusCode);
        }

        await node.WaitForTextAsync("binary AQID");
        using (var broadcast = await PostAsync(silo, "/v1/tenants/acme/broadcast", new SendMessageRequest(Text: "to every connection")))
        {
            Assert.True(broadcast.StatusCode == HttpStatusCode.OK, await broadcast.Content.ReadAsStringAsync());
            var body = await broadcast.Content.ReadFromJsonAsync<BroadcastResponse>(PlatformJson.Options);
            Assert.Equal((1, 1L), (body!.Gateways, body.Delivered));
        }

        await node.WaitForTextAsync("text to every connection");
        using (var disconnect = await PostAsync(silo, $"/v1/tenants/acme/connections/{listed.Id}/disconnect", new DisconnectRequest(4321, "bye from rest")))
        {
            Assert.Equal(HttpStatusCode.Accepted, disconnect.StatusCode);
        }

        await node.WaitForTextAsync("close 4321 bye from rest");
        using (var drain = await PostAsync(silo, $"/v1/gateways/{gateway.NodeId}/drain", new DrainGatewayRequest(0)))
        {
            Assert.Equal(HttpStatusCode.Accepted, drain.StatusCode);
        }

        Assert.True(gateway.Services.GetRequiredService<DrainState>().IsDraining);
        await using var refused = Listen(gateway.WsUri("acme", "late"));
        await refused.WaitForTextAsync("refused 503");
    }

    [Fact]
    public async Task Start_NoSiloListening_ServesItsSnapshotAtOnceAndRegistersWhenTheSiloAppears()
    {
        var state = Directory.CreateTempSubdirectory("gw-nosilo-").FullName;
        try
        {
            await using var silo = await SiloFixture.StartAsync();
            var tenant = await silo.CreateTenantAsync("acme");
            await using (var first = await silo.StartGatewayAsync(state))
            {
                await first.WaitForTenantAsync("acme");
                var saved = first.Services.GetRequiredService<SnapshotPersistence>().FilePath;
                await Wait.UntilAsync(() => File.Exists(saved), "the snapshot file");
            }

            await silo.StopSiloAsync();

            // Nothing listens on the silo's Orleans port now: the cluster client keeps trying, and the start does not wait for it.
            var starting = Stopwatch.StartNew();
            await using var gateway = await TestGateway.StartAsync(silo.ClusterEndpoint, state).WaitAsync(Bound);
            output.WriteLine($"started in {starting.Elapsed.TotalSeconds:F1} s with no silo");
            Assert.True(starting.Elapsed < TimeSpan.FromSeconds(15), $"the start took {starting.Elapsed}");
            await gateway.WaitForLeaseAsync(tenant.Id, 1);
            await using (var served = Listen(gateway.WsUri("acme", "failstatic")))
            {
                await served.WaitForTextAsync("open");
            }

            var away = await HealthAsync(gateway);
            Assert.Equal((false, false, gateway.Store.Current.Revision), (away.ClusterConnected, away.Registered, away.ConfigRevision));
            Assert.True(away.ConfigRevision > 0);
            Assert.False(gateway.Services.GetRequiredService<GatewayRegistration>().Registered);

            var since = Stopwatch.StartNew();
            await silo.StartSiloAgainAsync();
            await WaitAsync(() => Task.FromResult(gateway.Services.GetRequiredService<GatewayRegistration>().Registered), "the gateway to register with the silo that appeared");
            output.WriteLine($"registered {since.Elapsed.TotalSeconds:F1} s after the silo started");
            var back = await HealthAsync(gateway);
            Assert.Equal((true, true), (back.ClusterConnected, back.Registered));
            var listed = await silo.Operator.GetFromJsonAsync<Page<GatewayResponse>>(new Uri("/v1/gateways", UriKind.Relative), PlatformJson.Options);
            Assert.Contains(listed!.Items, g => g.Id == gateway.NodeId && g.Status == GatewayStatuses.Up);
        }
        finally
        {
            Directory.Delete(state, recursive: true);
        }
    }

    [Fact]
    public async Task Stop_BeforeASiloAnswered_StopsCleanlyWithNothingLoggedAsAnError()
    {
        // A loopback port nothing listens on: the cluster client keeps trying it until the gateway stops.
        var log = new RecordingLoggerProvider();
        var gateway = await TestGateway.StartAsync($"127.0.0.1:{FreePorts.Tcp()}", log: log).WaitAsync(Bound);
        await Wait.UntilAsync(() => log.Entries.Count(e => e.EventId == 1502) >= 2, "two failed attempts to reach the silo");

        await gateway.DisposeAsync().AsTask().WaitAsync(Bound);

        Assert.Contains(log.Entries, e => e.Category == "Microsoft.Hosting.Lifetime" && e.Message.Contains("shutting down", StringComparison.Ordinal));
        var errors = log.Entries.Where(e => e.Level >= LogLevel.Error).Select(e => $"{e.Category}[{e.EventId}] {e.Message}").ToList();
        Assert.True(errors.Count == 0, string.Join(Environment.NewLine, errors));
    }

    [Fact]
    public async Task SiloStartedAgain_GatewayReconnectsAndRenewsItsObserver_SendThroughRestReachesTheClientAgain()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");
        await gateway.WaitRegisteredAsync();
        await using var node = Listen(gateway.WsUri("acme", "kept"));
        await node.WaitForTextAsync("open");
        var listed = await silo.WaitForConnectionAsync("acme", c => c.WebSocket?.Path == "/t/acme/kept");
        using (var before = await PostAsync(silo, $"/v1/tenants/acme/connections/{listed.Id}/messages", new SendMessageRequest(Text: "before the restart")))
        {
            Assert.Equal(HttpStatusCode.Accepted, before.StatusCode);
        }

        await node.WaitForTextAsync("text before the restart");

        await silo.StopSiloAsync();
        var registration = gateway.Services.GetRequiredService<GatewayRegistration>();
        var failed = registration.FailedHeartbeats;
        await WaitAsync(() => Task.FromResult(registration.FailedHeartbeats > failed), "a heartbeat to fail while the silo is away");
        await silo.StartSiloAgainAsync();
        var since = Stopwatch.StartNew();

        // The connection stayed open on the gateway; the new silo reaches it once a heartbeat (or a new registration) has
        // handed it the gateway's observer.
        var attempts = 0;
        await WaitAsync(
            async () =>
            {
                attempts++;
                var id = (await Wait.ListAsync(silo, "acme")).FirstOrDefault(c => c.WebSocket?.Path == "/t/acme/kept")?.Id;
                if (id is null)
                {
                    return false;
                }

                using var send = await PostAsync(silo, $"/v1/tenants/acme/connections/{id}/messages", new SendMessageRequest(Text: "after the restart"));
                return send.StatusCode == HttpStatusCode.Accepted;
            },
            "a send through the restarted silo to be accepted");
        await node.WaitForTextAsync("text after the restart");
        output.WriteLine($"a send reached the client {since.Elapsed.TotalSeconds:F1} s after the silo started again ({attempts} attempts)");
        Assert.True(gateway.Services.GetRequiredService<ClusterConnection>().IsConnected);
    }

    [Fact]
    public async Task Healthz_AdminListenerOnly_RevisionAndClusterState()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");
        await gateway.WaitRegisteredAsync();

        var health = await HealthAsync(gateway);
        Assert.Equal((gateway.NodeId, gateway.Store.Current.Revision, true, true), (health.NodeId, health.ConfigRevision, health.ClusterConnected, health.Registered));

        // The public listeners serve WebSocket upgrades only: the admin route is not there.
        using var http = new HttpClient();
        using var onWs = await http.GetAsync(new Uri($"http://127.0.0.1:{gateway.Listeners.WsPort}/healthz"));
        Assert.NotEqual(HttpStatusCode.OK, onWs.StatusCode);
        Assert.DoesNotContain("clusterConnected", await onWs.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Nothing on the admin listener changes state.
        using var post = await http.PostAsync(new Uri(gateway.AdminUri, "/healthz"), content: null);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
    }

    [Fact]
    public async Task AdminListener_TheFormerInternalCommandRoutes_NotServedAndTheConnectionStaysOpen()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");
        await using var node = Listen(gateway.WsUri("acme", "target"));
        await node.WaitForTextAsync("open");
        var listed = await silo.WaitForConnectionAsync("acme", c => c.WebSocket?.Path == "/t/acme/target");

        // What a cluster secret used to authorize on this port (401 without it): commands now arrive only through the
        // cluster connection the gateway opened itself, so the port serves no such route, whatever a caller presents.
        using var http = new HttpClient { BaseAddress = gateway.AdminUri };
        foreach (var (path, body) in new (string, object)[]
        {
            ($"/internal/v1/connections/{listed.Id}/disconnect", new DisconnectRequest(4000, "from the admin port")),
            ($"/internal/v1/connections/{listed.Id}/send", new SendMessageRequest(Text: "from the admin port")),
            ("/internal/v1/drain", new DrainGatewayRequest(0)),
        })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(path, UriKind.Relative))
            {
                Content = JsonContent.Create(body, body.GetType(), options: PlatformJson.Options),
            };
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer cs_" + new string('0', 32));
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        Assert.False(gateway.Services.GetRequiredService<DrainState>().IsDraining);
        using (var send = await PostAsync(silo, $"/v1/tenants/acme/connections/{listed.Id}/messages", new SendMessageRequest(Text: "still open")))
        {
            Assert.Equal(HttpStatusCode.Accepted, send.StatusCode);
        }

        await node.WaitForTextAsync("text still open");
        Assert.DoesNotContain("from the admin port", node.Output, StringComparison.Ordinal);
    }

    private static PeerProcess Listen(Uri uri) =>
        PeerProcess.Start("node", $"\"{Path.Combine(NodeClient.ClientsDirectory, "ws-listen.mjs")}\" {uri}");

    private static async Task<Health> HealthAsync(TestGateway gateway)
    {
        using var http = new HttpClient { BaseAddress = gateway.AdminUri };
        using var response = await http.GetAsync(new Uri("/healthz", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<Health>(PlatformJson.Options))!;
    }

    private static Task<HttpResponseMessage> PostAsync<T>(SiloFixture silo, string path, T body) =>
        silo.Operator.PostAsJsonAsync(new Uri(path, UriKind.Relative), body, PlatformJson.Options);

    private static async Task WaitAsync(Func<Task<bool>> condition, string what)
    {
        using var limit = new CancellationTokenSource(Bound);
        while (!await condition())
        {
            Assert.False(limit.IsCancellationRequested, $"Waited {Bound.TotalSeconds} s for {what}.");
            await Task.Delay(100, CancellationToken.None);
        }
    }

    private sealed record Health(string NodeId, long ConfigRevision, bool ClusterConnected, bool Registered);
}
