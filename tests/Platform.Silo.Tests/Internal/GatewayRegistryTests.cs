using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts;
using Platform.Contracts.Gateways;
using Platform.Contracts.Internal;
using Platform.Contracts.Tenants;
using Platform.Testing;

namespace Platform.Silo.Tests.Internal;

public sealed class GatewayRegistryTests
{
    [Fact]
    public async Task Register_NewNode_ReturnsTimingAndListsNodeUp()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, new Dictionary<string, string?>
        {
            ["Platform:HeartbeatIntervalSeconds"] = "4",
            ["Platform:HeartbeatTimeoutSeconds"] = "12",
        });

        var registered = await silo.RegisterGatewayAsync("gw-1");

        Assert.Equal(new RegisterGatewayResponse("gw-1", 4, 12), registered);
        var list = await silo.OperatorClient().GetFromJsonAsync<Page<GatewayResponse>>("/v1/gateways", PlatformJson.Options);
        var node = Assert.Single(list!.Items);
        Assert.Equal(("gw-1", GatewayStatuses.Up, "1.0.0", 0L), (node.Id, node.Status, node.Version, node.Connections));
        Assert.Equal(["ws:8080"], node.Listeners);
    }

    [Fact]
    public async Task Heartbeat_RegisteredNode_RecordsStateAndAnswersUp()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await silo.RegisterGatewayAsync("gw-1");

        var answer = await silo.HeartbeatAsync("gw-1", revision: 7, open: 3);

        Assert.Equal(new HeartbeatResponse(GatewayStatuses.Up, null), answer);
        Assert.Equal(7L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT config_revision FROM gateway_nodes WHERE id = 'gw-1'"));
        Assert.Equal(3L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT open_connections FROM gateway_nodes WHERE id = 'gw-1'"));
    }

    [Fact]
    public async Task Heartbeat_UnknownNode_AnswersNullAndStoresNothing()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var answer = await silo.HeartbeatAsync("gw-never");

        Assert.Null(answer);
        Assert.Equal(0L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT count(*) FROM gateway_nodes"));
    }

    [Fact]
    public async Task Register_ExistingNode_ClosesItsConnectionsAndDropsItsLeases()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", maxConnections: 10);
        await silo.RegisterGatewayAsync("gw-1");
        await silo.SyncLeasesAsync("gw-1", new LeaseWant(tenantId, 5));
        Assert.True(await silo.SendEventsAsync("gw-1", new ConnectionEventBatch([InternalTestFixture.Opened("gw-1.1", tenantId).Ws()], [], [])));

        await silo.RegisterGatewayAsync("gw-1");

        Assert.Equal(0L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT count(*) FROM quota_leases"));
        Assert.Equal("gateway restarted", await InternalTestFixture.QueryScalarAsync<string>(silo, "SELECT close_reason FROM connections WHERE id = 'gw-1.1' AND closed_at IS NOT NULL"));
    }

    [Fact]
    public async Task Leave_LiveNode_StoppedLeasesFreedOpenConnectionsClosedAndLaterCallsSeeItGone()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", maxConnections: 10);
        await silo.RegisterGatewayAsync("gw-1");
        await silo.RegisterGatewayAsync("gw-2");
        Assert.Equal(10, (await silo.SyncLeasesAsync("gw-1", new LeaseWant(tenantId, 10))).Leases.Single().Slots);
        Assert.True(await silo.SendEventsAsync("gw-1", new ConnectionEventBatch([InternalTestFixture.Opened("gw-1.1", tenantId).Ws()], [], [])));

        Assert.True(await silo.LeaveAsync("gw-1"));

        var list = await silo.OperatorClient().GetFromJsonAsync<Page<GatewayResponse>>("/v1/gateways", PlatformJson.Options);
        Assert.Equal(GatewayStatuses.Stopped, list!.Items.Single(g => g.Id == "gw-1").Status);
        Assert.Equal("1001 gateway stopped", await InternalTestFixture.QueryScalarAsync<string>(
            silo, "SELECT close_code || ' ' || close_reason FROM connections WHERE id = 'gw-1.1' AND closed_at IS NOT NULL"));
        // The slots it held are the other gateway's to take at once.
        Assert.Equal(10, (await silo.SyncLeasesAsync("gw-2", new LeaseWant(tenantId, 10))).Leases.Single().Slots);

        // Gone for every later call: heartbeat, events, a second leave and a drain.
        Assert.Null(await silo.HeartbeatAsync("gw-1"));
        Assert.False(await silo.SendEventsAsync("gw-1", new ConnectionEventBatch([], [], [])));
        Assert.False(await silo.LeaveAsync("gw-1"));
        var drain = await silo.OperatorClient().PostAsJsonAsync("/v1/gateways/gw-1/drain", new DrainGatewayRequest(0), PlatformJson.Options);
        Assert.Equal(HttpStatusCode.Conflict, drain.StatusCode);

        // Starting again under the same id brings it back up.
        await silo.RegisterGatewayAsync("gw-1");
        Assert.Equal(new HeartbeatResponse(GatewayStatuses.Up, null), await silo.HeartbeatAsync("gw-1"));
    }

    [Fact]
    public async Task Reaper_StoppedNode_IsNotDeclaredDead()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await silo.RegisterGatewayAsync("gw-1");
        Assert.True(await silo.LeaveAsync("gw-1"));
        await InternalTestFixture.ExecuteAsync(silo, "UPDATE gateway_nodes SET last_heartbeat_at = now() - interval '1 hour'");

        var dead = await silo.Services.GetRequiredService<Platform.Silo.Internal.GatewayReaper>().ReapOnceAsync(CancellationToken.None);

        Assert.Empty(dead);
        Assert.Equal(GatewayStatuses.Stopped, await InternalTestFixture.QueryScalarAsync<string>(silo, "SELECT status FROM gateway_nodes WHERE id = 'gw-1'"));
    }
}
