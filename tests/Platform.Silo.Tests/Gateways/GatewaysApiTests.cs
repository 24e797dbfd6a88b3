using System.Net;
using System.Net.Http.Json;
using Platform.Cluster;
using Platform.Contracts;
using Platform.Contracts.Gateways;
using Platform.Contracts.Internal;
using Platform.Contracts.Tenants;
using Platform.Silo.Tests.Internal;
using Platform.Testing;

namespace Platform.Silo.Tests.Gateways;

public sealed class GatewaysApiTests
{
    [Fact]
    public async Task List_GatewaysWithConnections_CountsOpenConnectionsPerGateway()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-1");
        await silo.RegisterGatewayAsync("gw-2");
        var now = DateTimeOffset.UtcNow;
        Assert.True(await silo.SendEventsAsync("gw-1", new ConnectionEventBatch(
            [InternalTestFixture.Opened("gw-1.1", tenantId).Ws(now), InternalTestFixture.Opened("gw-1.2", tenantId).Ws(now), InternalTestFixture.Opened("gw-1.3", tenantId).Ws(now)],
            [],
            [new ConnectionClosed(new ConnectionCounters("gw-1.3", 0, 0, 0, 0, now), now, 1000, null)])));
        Assert.NotNull(await silo.HeartbeatAsync("gw-2", revision: 42, open: 0));

        var list = await silo.OperatorClient().GetFromJsonAsync<Page<GatewayResponse>>("/v1/gateways", PlatformJson.Options);

        Assert.Equal([("gw-1", 2L, 0L), ("gw-2", 0L, 42L)], list!.Items.Select(g => (g.Id, g.Connections, g.ConfigRevision)));
    }

    [Fact]
    public async Task Drain_RunningGateway_SetsDrainingForwardsAndAudits()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        using var gateway = silo.NewGateway();
        await silo.RegisterGatewayAsync("gw-1", gateway);

        var response = await silo.OperatorClient().PostAsJsonAsync("/v1/gateways/gw-1/drain", new DrainGatewayRequest(120), PlatformJson.Options);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(GatewayStatuses.Draining, (await response.Content.ReadFromJsonAsync<GatewayResponse>(PlatformJson.Options))!.Status);
        Assert.Equal(new DrainCommand(new DrainGatewayRequest(120)), Assert.Single(gateway.Received));
        var heartbeat = await silo.HeartbeatAsync("gw-1");
        Assert.Equal(GatewayStatuses.Draining, heartbeat!.Status);
        Assert.NotNull(heartbeat.DrainDeadline);
        Assert.InRange(heartbeat.DrainDeadline!.Value - DateTimeOffset.UtcNow, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(121));
        Assert.Equal(1L, await InternalTestFixture.QueryScalarAsync<long>(silo,
            "SELECT count(*) FROM audit_log WHERE action = 'gateway.drain' AND target = 'gw-1' AND actor = 'operator'"));
    }

    [Fact]
    public async Task Drain_UnreachableGateway_StillRecordedForItsNextHeartbeat()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        using var gateway = silo.NewGateway();
        gateway.Failure = new InvalidOperationException("the gateway's command handler failed");
        await silo.RegisterGatewayAsync("gw-1", gateway);

        var response = await silo.OperatorClient().PostAsJsonAsync("/v1/gateways/gw-1/drain", new DrainGatewayRequest(), PlatformJson.Options);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.IsType<DrainCommand>(Assert.Single(gateway.Received));
        Assert.Equal(new HeartbeatResponse(GatewayStatuses.Draining, null), await silo.HeartbeatAsync("gw-1"));
    }

    [Fact]
    public async Task Drain_UnknownDeadOrInvalid_AnswersProblems()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await silo.RegisterGatewayAsync("gw-dead");
        await InternalTestFixture.ExecuteAsync(silo, "UPDATE gateway_nodes SET status = 'dead', dead_at = now() WHERE id = 'gw-dead'");

        var unknown = await silo.OperatorClient().PostAsJsonAsync("/v1/gateways/gw-none/drain", new DrainGatewayRequest(), PlatformJson.Options);
        var dead = await silo.OperatorClient().PostAsJsonAsync("/v1/gateways/gw-dead/drain", new DrainGatewayRequest(), PlatformJson.Options);
        var invalid = await silo.OperatorClient().PostAsJsonAsync("/v1/gateways/gw-dead/drain", new DrainGatewayRequest(-1), PlatformJson.Options);

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, dead.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        Assert.Contains("\"field\":\"deadlineSeconds\"", await invalid.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GatewaysApi_TenantKey_Answers403()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        var key = await InternalTestFixture.InsertTenantKeyAsync(silo, tenantId);
        await silo.RegisterGatewayAsync("gw-1");

        var list = await silo.ClientWith(key).GetAsync(new Uri("/v1/gateways", UriKind.Relative));
        var drain = await silo.ClientWith(key).PostAsJsonAsync("/v1/gateways/gw-1/drain", new DrainGatewayRequest(), PlatformJson.Options);

        Assert.Equal(HttpStatusCode.Forbidden, list.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, drain.StatusCode);
        Assert.Equal("up", await InternalTestFixture.QueryScalarAsync<string>(silo, "SELECT status FROM gateway_nodes WHERE id = 'gw-1'"));
    }
}
