using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Contracts.Gateways;
using Platform.Contracts.Tenants;
using Platform.Gateway.Admission;
using Platform.Gateway.Tests.Support;

namespace Platform.Gateway.Tests.EndToEnd;

/// <summary>REST commands, drain, suspension and gateway loss, against a real silo with one or two gateways.</summary>
public sealed class ConnectionControlTests
{
    [Fact]
    public async Task Broadcast_TwoGateways_ReachesClientsOnBoth()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await using var a = await StartRegisteredAsync(silo, "acme");
        await using var b = await StartRegisteredAsync(silo, "acme");
        using var onA = await WsClient.ConnectAsync(a.WsUri("acme"));
        using var onB = await WsClient.ConnectAsync(b.WsUri("acme"));
        await Wait.UntilAsync(async () => (await Wait.ListAsync(silo, "acme")).Select(c => c.GatewayId).Distinct().Count() == 2, "both connections listed");

        using var response = await silo.Operator.PostAsJsonAsync(
            new Uri("/v1/tenants/acme/broadcast", UriKind.Relative), new SendMessageRequest(Text: "to everyone"), PlatformJson.Options);

        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var body = await response.Content.ReadFromJsonAsync<BroadcastResponse>(PlatformJson.Options);
        Assert.Equal(2, body!.Gateways);
        Assert.Equal(2, body.Delivered);
        Assert.Equal("to everyone", await WsClient.ReceiveTextAsync(onA));
        Assert.Equal("to everyone", await WsClient.ReceiveTextAsync(onB));
    }

    [Fact]
    public async Task SendAndDisconnect_ClientOnOtherGateway_RoutedToItsOwnerAndRecorded()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await using var a = await StartRegisteredAsync(silo, "acme");
        await using var b = await StartRegisteredAsync(silo, "acme");
        using var onA = await WsClient.ConnectAsync(a.WsUri("acme"));
        using var onB = await WsClient.ConnectAsync(b.WsUri("acme", "b"));
        var target = await silo.WaitForConnectionAsync("acme", c => c.GatewayId == b.NodeId);

        using (var text = await PostAsync(silo, $"/v1/tenants/acme/connections/{target.Id}/messages", new SendMessageRequest(Text: "only for b")))
        {
            Assert.Equal(HttpStatusCode.Accepted, text.StatusCode);
        }

        Assert.Equal("only for b", await WsClient.ReceiveTextAsync(onB));
        using (var binary = await PostAsync(silo, $"/v1/tenants/acme/connections/{target.Id}/messages", new SendMessageRequest(Binary: Convert.ToBase64String([9, 8, 7]))))
        {
            Assert.Equal(HttpStatusCode.Accepted, binary.StatusCode);
        }

        var (type, payload) = await WsClient.ReceiveAsync(onB);
        Assert.Equal(WebSocketMessageType.Binary, type);
        Assert.Equal([9, 8, 7], payload);

        using (var disconnect = await PostAsync(silo, $"/v1/tenants/acme/connections/{target.Id}/disconnect", new DisconnectRequest(4400, "moved elsewhere")))
        {
            Assert.Equal(HttpStatusCode.Accepted, disconnect.StatusCode);
        }

        var (closeType, _) = await WsClient.ReceiveAsync(onB);
        Assert.Equal(WebSocketMessageType.Close, closeType);
        Assert.Equal(4400, (int)onB.CloseStatus!);
        Assert.Equal("moved elsewhere", onB.CloseStatusDescription);
        var closed = await silo.WaitForConnectionAsync("acme", c => c.Id == target.Id, state: "closed");
        Assert.Equal(4400, closed.CloseCode);
        Assert.Equal("moved elsewhere", closed.CloseReason);
        Assert.Equal(b.NodeId, closed.GatewayId);

        // The client on the first gateway saw none of it.
        await WsClient.SendTextAsync(onA, "still here");
        Assert.Equal("still here", await WsClient.ReceiveTextAsync(onA));
        using var gone = await PostAsync(silo, $"/v1/tenants/acme/connections/{target.Id}/messages", new SendMessageRequest(Text: "late"));
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Contains("connection_not_found", await gone.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Drain_ThroughRest_RefusesNewKeepsExistingUntilTheDeadline()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await using var gateway = await StartRegisteredAsync(silo, "acme");
        using var existing = await WsClient.ConnectAsync(gateway.WsUri("acme"));
        var listed = await silo.WaitForConnectionAsync("acme", _ => true);

        using (var drain = await PostAsync(silo, $"/v1/gateways/{gateway.NodeId}/drain", new DrainGatewayRequest(0)))
        {
            Assert.Equal(HttpStatusCode.Accepted, drain.StatusCode);
            var body = await drain.Content.ReadFromJsonAsync<GatewayResponse>(PlatformJson.Options);
            Assert.Equal(GatewayStatuses.Draining, body!.Status);
        }

        var (status, head, problem) = await RawHttp.UpgradeAsync(gateway.WsEndPoint, "acme.platform.test", "/");
        Assert.Equal(503, status);
        Assert.Contains("application/problem+json", head, StringComparison.Ordinal);
        Assert.Contains("\"code\":\"draining\"", problem, StringComparison.Ordinal);
        await WsClient.SendTextAsync(existing, "still served");
        Assert.Equal("still served", await WsClient.ReceiveTextAsync(existing));

        // A deadline closes what is left once it passes.
        using (var deadline = await PostAsync(silo, $"/v1/gateways/{gateway.NodeId}/drain", new DrainGatewayRequest(2)))
        {
            Assert.Equal(HttpStatusCode.Accepted, deadline.StatusCode);
        }

        var (type, _) = await WsClient.ReceiveAsync(existing);
        Assert.Equal(WebSocketMessageType.Close, type);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, existing.CloseStatus);
        var closed = await silo.WaitForConnectionAsync("acme", c => c.Id == listed.Id, state: "closed");
        Assert.Equal(1001, closed.CloseCode);
    }

    [Fact]
    public async Task Suspend_ThroughRest_ClosesLiveConnectionsRefusesNewAndResumeAdmits()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await silo.CreateTenantAsync("other");
        await using var gateway = await StartRegisteredAsync(silo, "acme");
        await gateway.WaitForTenantAsync("other");
        using var live = await WsClient.ConnectAsync(gateway.WsUri("acme"));
        using var bystander = await WsClient.ConnectAsync(gateway.WsUri("other"));
        var listed = await silo.WaitForConnectionAsync("acme", _ => true);

        using (var suspend = await silo.Operator.PostAsync(new Uri("/v1/tenants/acme/suspend", UriKind.Relative), null))
        {
            Assert.True(suspend.IsSuccessStatusCode, await suspend.Content.ReadAsStringAsync());
        }

        var (type, _) = await WsClient.ReceiveAsync(live);
        Assert.Equal(WebSocketMessageType.Close, type);
        Assert.Equal(4002, (int)live.CloseStatus!);
        Assert.Equal("tenant suspended", live.CloseStatusDescription);
        var (status, _, problem) = await RawHttp.UpgradeAsync(gateway.WsEndPoint, "acme.platform.test", "/");
        Assert.Equal(403, status);
        Assert.Contains("\"code\":\"suspended\"", problem, StringComparison.Ordinal);
        await WsClient.SendTextAsync(bystander, "unaffected");
        Assert.Equal("unaffected", await WsClient.ReceiveTextAsync(bystander));
        var closed = await silo.WaitForConnectionAsync("acme", c => c.Id == listed.Id, state: "closed");
        Assert.Equal(4002, closed.CloseCode);

        using (var resume = await silo.Operator.PostAsync(new Uri("/v1/tenants/acme/resume", UriKind.Relative), null))
        {
            Assert.True(resume.IsSuccessStatusCode, await resume.Content.ReadAsStringAsync());
        }

        await gateway.WaitForSnapshotAsync(s => s.BySlug.TryGetValue("acme", out var t) && !t.Suspended);
        await gateway.WaitForTenantAsync("acme");
        using var again = await WsClient.ConnectAsync(gateway.WsUri("acme"));
        await WsClient.SendTextAsync(again, "back");
        Assert.Equal("back", await WsClient.ReceiveTextAsync(again));
    }

    [Fact]
    public async Task GatewayLost_ItsConnectionsLeaveTheListingsWithinTheHeartbeatTimeout()
    {
        await using var silo = await SiloFixture.StartAsync(behindRelay: true);
        await silo.CreateTenantAsync("acme");
        await using var survivor = await StartRegisteredAsync(silo, "acme");
        var relay = silo.Relay!;
        var doomedFrom = relay.Accepted;
        await using var doomed = await silo.StartGatewayAsync();
        await doomed.WaitForTenantAsync("acme");
        await doomed.WaitRegisteredAsync();
        using var kept = await WsClient.ConnectAsync(survivor.WsUri("acme"));
        using var lost = await WsClient.ConnectAsync(doomed.WsUri("acme"));
        await Wait.UntilAsync(async () => (await Wait.ListAsync(silo, "acme")).Count == 2, "both connections listed");

        // The gateway is cut off from the silo: no heartbeat, no close event ever arrives.
        relay.Cut(from: doomedFrom);

        await Wait.UntilAsync(
            async () => (await Wait.ListAsync(silo, "acme")).All(c => c.GatewayId != doomed.NodeId),
            "the lost gateway's connection to leave the open listing");
        var open = await Wait.ListAsync(silo, "acme");
        Assert.Equal(survivor.NodeId, Assert.Single(open).GatewayId);
        var reaped = Assert.Single(await Wait.ListAsync(silo, "acme", "closed"), c => c.GatewayId == doomed.NodeId);
        Assert.Equal("gateway lost", reaped.CloseReason);
    }

    [Fact]
    public async Task GatewayLost_ThenBack_AnnouncesLiveConnectionsAndHeldSlotsAgain()
    {
        await using var silo = await SiloFixture.StartAsync(behindRelay: true);
        var tenant = await silo.CreateTenantAsync("acme", new TenantConfig { Limits = new LimitsConfig { MaxConnections = 2 } });
        var relay = silo.Relay!;
        await using var partitioned = await silo.StartGatewayAsync();
        await partitioned.WaitForTenantAsync("acme");
        await partitioned.WaitRegisteredAsync();
        using var first = await WsClient.ConnectAsync(partitioned.WsUri("acme", "first"));
        using var second = await WsClient.ConnectAsync(partitioned.WsUri("acme", "second"));
        var listed = await silo.WaitForConnectionAsync("acme", c => c.WebSocket?.Path == "/t/acme/first");

        relay.Cut();
        await silo.WaitForConnectionAsync("acme", c => c.Id == listed.Id && c.CloseReason == "gateway lost", state: "closed");
        relay.Restore();

        // Back: the live connections are listed again and reachable through the REST API. That takes the Orleans client's
        // reconnection (its attempts back off while the relay refused them), a failed heartbeat that learns the node was
        // declared dead, a registration and the announcement; alone it takes a few seconds, beside the whole suite on two
        // cores it has taken more than 20, so the wait is longer than the file's usual one.
        await Wait.UntilAsync(async () => (await Wait.ListAsync(silo, "acme")).Count == 2, "both live connections listed again", TimeSpan.FromSeconds(60));
        using (var send = await PostAsync(silo, $"/v1/tenants/acme/connections/{listed.Id}/messages", new SendMessageRequest(Text: "found you")))
        {
            Assert.Equal(HttpStatusCode.Accepted, send.StatusCode);
        }

        Assert.Equal("found you", await WsClient.ReceiveTextAsync(first));

        // Its two slots are the silo's record again: another gateway gets none of them.
        await Wait.UntilAsync(async () => await LeasedSlotsAsync(silo, tenant.Id, partitioned.NodeId) == 2, "the held slots reported to the silo");
        await using var other = await silo.StartGatewayAsync();
        await other.WaitForSnapshotAsync(s => s.BySlug.ContainsKey("acme"));
        await other.WaitRegisteredAsync();
        var (status, _, body) = await RawHttp.UpgradeAsync(other.WsEndPoint, "acme.platform.test", "/");
        Assert.Equal(503, status);
        Assert.Contains("\"code\":\"max_connections\"", body, StringComparison.Ordinal);
        Assert.Equal(2, partitioned.Services.GetRequiredService<LeaseManager>().Get(tenant.Id).Held);
    }

    [Fact]
    public async Task Stop_ClosesConnectionsWith1001AndGivesTheLeasesBackAtOnce()
    {
        // A heartbeat timeout far beyond the test: only the stopping gateway itself can free its slots.
        await using var silo = await SiloFixture.StartAsync(new Dictionary<string, string?> { ["Platform:HeartbeatTimeoutSeconds"] = "600" });
        var tenant = await silo.CreateTenantAsync("acme", new TenantConfig { Limits = new LimitsConfig { MaxConnections = 2 } });
        var stopping = await StartRegisteredAsync(silo, "acme");
        await using var other = await silo.StartGatewayAsync();
        await other.WaitForSnapshotAsync(s => s.BySlug.ContainsKey("acme"));
        await other.WaitRegisteredAsync();
        using var first = await WsClient.ConnectAsync(stopping.WsUri("acme", "first"));
        using var second = await WsClient.ConnectAsync(stopping.WsUri("acme", "second"));
        await Wait.UntilAsync(async () => (await Wait.ListAsync(silo, "acme")).Count == 2, "both connections listed");
        await Wait.UntilAsync(async () => await LeasedSlotsAsync(silo, tenant.Id, stopping.NodeId) == 2, "both slots leased to the stopping gateway");
        var (full, _, _) = await RawHttp.UpgradeAsync(other.WsEndPoint, "acme.platform.test", "/");
        Assert.Equal(503, full);

        var stoppingId = stopping.NodeId;
        var stopped = stopping.DisposeAsync().AsTask();
        foreach (var client in new[] { first, second })
        {
            var (type, _) = await WsClient.ReceiveAsync(client);
            Assert.Equal(WebSocketMessageType.Close, type);
            Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, client.CloseStatus);
            await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        }

        await stopped;

        // The directory has the gateway's own close (not a reaper's), the node is listed as stopped, and
        // its slots are free for the other gateway without waiting for any timeout.
        var closed = await Wait.ListAsync(silo, "acme", "closed");
        Assert.Equal(2, closed.Count);
        Assert.All(closed, c => Assert.Equal((1001, "gateway stopping"), (c.CloseCode, c.CloseReason)));
        var gateways = await silo.Operator.GetFromJsonAsync<Page<GatewayResponse>>(new Uri("/v1/gateways", UriKind.Relative), PlatformJson.Options);
        Assert.Equal(GatewayStatuses.Stopped, Assert.Single(gateways!.Items, g => g.Id == stoppingId).Status);
        Assert.Equal(0, await LeasedSlotsAsync(silo, tenant.Id, stoppingId));
        await Wait.UntilAsync(async () =>
        {
            var (status, _, _) = await RawHttp.UpgradeAsync(other.WsEndPoint, "acme.platform.test", "/");
            return status == 101;
        }, "the other gateway to admit with the freed slots");
        using var moved = await WsClient.ConnectAsync(other.WsUri("acme", "moved"));
        await WsClient.SendTextAsync(moved, "here now");
        Assert.Equal("here now", await WsClient.ReceiveTextAsync(moved));
    }

    [Fact]
    public async Task Stop_ClientThatNeverAnswersItsClose_StillLeavesAndGivesTheSlotBack()
    {
        await using var silo = await SiloFixture.StartAsync(new Dictionary<string, string?> { ["Platform:HeartbeatTimeoutSeconds"] = "600" });
        var tenant = await silo.CreateTenantAsync("acme", new TenantConfig { Limits = new LimitsConfig { MaxConnections = 1 } });
        var stopping = await StartRegisteredAsync(silo, "acme");
        var stoppingId = stopping.NodeId;
        // A raw client that reads nothing and never sends its close frame.
        using var deaf = await RawWebSocket.ConnectAsync(stopping.WsEndPoint, "acme.platform.test", "/deaf");
        await Wait.UntilAsync(async () => await LeasedSlotsAsync(silo, tenant.Id, stoppingId) == 1, "the slot leased to the stopping gateway");

        await stopping.DisposeAsync();

        var gateways = await silo.Operator.GetFromJsonAsync<Page<GatewayResponse>>(new Uri("/v1/gateways", UriKind.Relative), PlatformJson.Options);
        Assert.Equal(GatewayStatuses.Stopped, Assert.Single(gateways!.Items, g => g.Id == stoppingId).Status);
        Assert.Equal(0, await LeasedSlotsAsync(silo, tenant.Id, stoppingId));
        var closed = Assert.Single(await Wait.ListAsync(silo, "acme", "closed"));
        Assert.Equal(1001, closed.CloseCode);
        Assert.Empty(await Wait.ListAsync(silo, "acme"));
    }

    private static async Task<int> LeasedSlotsAsync(SiloFixture silo, Guid tenantId, string gatewayId)
    {
        await using var connection = new NpgsqlConnection(silo.Database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT slots FROM quota_leases WHERE tenant_id = @tenant AND gateway_id = @gateway", connection);
        command.Parameters.AddWithValue("tenant", tenantId);
        command.Parameters.AddWithValue("gateway", gatewayId);
        return await command.ExecuteScalarAsync() is int slots ? slots : 0;
    }

    private static async Task<TestGateway> StartRegisteredAsync(SiloFixture silo, string slug)
    {
        var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync(slug);
        await gateway.WaitRegisteredAsync();
        return gateway;
    }

    private static Task<HttpResponseMessage> PostAsync<T>(SiloFixture silo, string path, T body) =>
        silo.Operator.PostAsJsonAsync(new Uri(path, UriKind.Relative), body, PlatformJson.Options);
}
