using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Orleans;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.TestingHost;
using Platform.Contracts.Internal;
using Platform.Silo.Cluster;
using Platform.Silo.Connections.Live;
using Platform.Silo.Internal;
using Platform.Silo.Tests.Cluster;
using Platform.Silo.Tests.Internal;
using Platform.Testing;

namespace Platform.Silo.Tests.Connections;

/// <summary>
/// The connections grain in a cluster of two silos on the platform's membership table and a real database: what it
/// lists is what is stored, after the loss of the silo holding it, after batches applied again or late, after another
/// activation wrote, and after a gateway's connections were closed in bulk.
/// </summary>
public sealed class TenantConnectionsGrainClusterTests
{
    private static readonly DateTime At = new(2026, 3, 1, 12, 0, 0, DateTimeKind.Utc);
    private static readonly LiveConnectionQuery Everything = new(null, null, null, 0, 1000);

    [Fact]
    public async Task Apply_OpenCountersClose_StoredBeforeTheAnswerAndListedFromMemory()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = Silo(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-a");
        await using var cluster = await PlatformTestCluster.StartAsync(database);
        var grain = PlatformTestCluster.Grains(cluster.Silos[0]).GetGrain<ITenantConnectionsGrain>(tenantId);

        Assert.True(await grain.ApplyAsync(Events("gw-a", opened: [Opened("gw-a.1", 0), Opened("gw-a.2", 1), Opened("gw-a.3", 2)])));
        Assert.True(await grain.ApplyAsync(Events("gw-a", counters: [Counters("gw-a.1", 100, 30)], closed: [Closed("gw-a.2", 10, 5)])));

        var page = await grain.ListAsync(Everything);
        Assert.Equal(["gw-a.1", "gw-a.3"], page.Items.Select(c => c.Id));
        Assert.Equal(2, page.Total);
        Assert.Equal((100L, At.AddSeconds(30)), (page.Items[0].BytesIn, page.Items[0].LastActivityAt));
        Assert.Equal("{\"subProtocol\": \"chat\"}", page.Items[0].WebSocketJson);
        Assert.Null(await grain.GetAsync("gw-a.2"));
        Assert.Equal(await StoredOpenAsync(database, tenantId), page.Items);
        Assert.Equal("gw-a.2 1000 normal", await ScalarAsync<string>(database,
            "SELECT id || ' ' || close_code || ' ' || close_reason FROM connections WHERE closed_at IS NOT NULL"));
        var paged = await grain.ListAsync(new LiveConnectionQuery("ws", null, "gw-a", 1, 1));
        Assert.Equal((2L, "gw-a.3"), (paged.Total, Assert.Single(paged.Items).Id));
    }

    [Fact]
    public async Task List_SiloHoldingTheActivationKilled_LiveListComesBackIntact()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = Silo(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-a");
        await silo.RegisterGatewayAsync("gw-b");
        await using var cluster = await PlatformTestCluster.StartAsync(database);
        var grain = PlatformTestCluster.Grains(cluster.Silos[1]).GetGrain<ITenantConnectionsGrain>(tenantId);
        Assert.True(await grain.ApplyAsync(Events("gw-a", opened: [Opened("gw-a.1", 0), Opened("gw-a.2", 1)], counters: [Counters("gw-a.1", 50, 9)])));
        Assert.True(await grain.ApplyAsync(Events("gw-b", opened: [Opened("gw-b.1", 2)], closed: [])));
        Assert.True(await grain.ApplyAsync(Events("gw-a", closed: [Closed("gw-a.2", 1, 3)])));
        var before = await grain.ListAsync(Everything);
        var holder = await PlatformTestCluster.Grains(cluster.Silos[0]).GetGrain<IManagementGrain>(0).GetActivationAddress(grain);
        var dying = cluster.Silos.Single(s => s.SiloAddress.Equals(holder));
        var survivor = cluster.Silos.Single(s => !s.SiloAddress.Equals(holder));

        await cluster.KillSiloAsync(dying);

        var again = PlatformTestCluster.Grains(survivor).GetGrain<ITenantConnectionsGrain>(tenantId);
        var after = await PlatformTestCluster.UntilAnsweredAsync(() => again.ListAsync(Everything));
        Assert.Equal(["gw-a.1", "gw-b.1"], after.Items.Select(c => c.Id));
        Assert.Equal(before.Items, after.Items);
        Assert.Equal(survivor.SiloAddress, await PlatformTestCluster.Grains(survivor).GetGrain<IManagementGrain>(0).GetActivationAddress(again));
        // It goes on from there: the next batch is stored on top of what was loaded.
        Assert.True(await again.ApplyAsync(Events("gw-b", counters: [Counters("gw-b.1", 70, 12)])));
        Assert.Equal(await StoredOpenAsync(database, tenantId), (await again.ListAsync(Everything)).Items);
    }

    [Fact]
    public async Task Apply_BatchesSentAgainAndLate_ChangeNothing()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = Silo(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-a");
        await using var cluster = await PlatformTestCluster.StartAsync(database);
        var grain = PlatformTestCluster.Grains(cluster.Silos[0]).GetGrain<ITenantConnectionsGrain>(tenantId);
        var first = Events("gw-a", opened: [Opened("gw-a.1", 0), Opened("gw-a.2", 1)]);
        var second = Events("gw-a", counters: [Counters("gw-a.1", 500, 40)], closed: [Closed("gw-a.2", 20, 8)]);
        Assert.True(await grain.ApplyAsync(first));
        Assert.True(await grain.ApplyAsync(second));
        var expected = await grain.ListAsync(Everything);
        var rows = await AllRowsAsync(database);

        // A retry after a lost answer (the same batch again), the first batch arriving after the close, and an older,
        // smaller counter snapshot.
        Assert.True(await grain.ApplyAsync(second));
        Assert.True(await grain.ApplyAsync(first));
        Assert.True(await grain.ApplyAsync(Events("gw-a", counters: [Counters("gw-a.1", 100, 10)], closed: [Closed("gw-a.2", 1, 2)])));

        var page = await grain.ListAsync(Everything);
        Assert.Equal(expected.Items, page.Items);
        Assert.Equal((500L, At.AddSeconds(40)), (Assert.Single(page.Items).BytesIn, page.Items[0].LastActivityAt));
        Assert.Equal(rows, await AllRowsAsync(database));
    }

    [Fact]
    public async Task List_EventsStoredThroughAnotherActivation_AreListed()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = Silo(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-a");
        // The silo app is a cluster of its own on the same database: its grain and this cluster's are two activations.
        await using var cluster = await PlatformTestCluster.StartAsync(database);
        var grain = PlatformTestCluster.Grains(cluster.Silos[0]).GetGrain<ITenantConnectionsGrain>(tenantId);
        Assert.True(await grain.ApplyAsync(Events("gw-a", opened: [Opened("gw-a.1", 0), Opened("gw-a.2", 1)])));
        Assert.Equal(2, (await grain.ListAsync(Everything)).Total);

        Assert.True(await silo.SendEventsAsync("gw-a", new ConnectionEventBatch(
            [InternalTestFixture.Opened("gw-a.3", tenantId).Ws(new DateTimeOffset(At.AddSeconds(2)))], [],
            [new ConnectionClosed(new ConnectionCounters("gw-a.1", 1, 1, 1, 1, new DateTimeOffset(At.AddSeconds(3))), new DateTimeOffset(At.AddSeconds(4)), 1000, null)])));

        Assert.Equal(["gw-a.2", "gw-a.3"], (await grain.ListAsync(Everything)).Items.Select(c => c.Id));
        Assert.Null(await grain.GetAsync("gw-a.1"));
        // A write through this activation lands on top of the other's, and both agree with the table.
        Assert.True(await grain.ApplyAsync(Events("gw-a", closed: [Closed("gw-a.3", 5, 6)])));
        var stored = await StoredOpenAsync(database, tenantId);
        Assert.Equal(["gw-a.2"], stored.Select(c => c.Id));
        Assert.Equal(stored, (await grain.ListAsync(Everything)).Items);
    }

    [Fact]
    public async Task List_GatewayDeclaredDead_ItsConnectionsLeaveTheList()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = Silo(database);
        var acme = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        var beta = await InternalTestFixture.InsertTenantRowsAsync(silo, "beta");
        await silo.RegisterGatewayAsync("gw-dead");
        await silo.RegisterGatewayAsync("gw-live");
        await using var cluster = await PlatformTestCluster.StartAsync(database);
        var acmeGrain = PlatformTestCluster.Grains(cluster.Silos[0]).GetGrain<ITenantConnectionsGrain>(acme);
        var betaGrain = PlatformTestCluster.Grains(cluster.Silos[1]).GetGrain<ITenantConnectionsGrain>(beta);
        Assert.True(await acmeGrain.ApplyAsync(Events("gw-dead", opened: [Opened("gw-dead.1", 0), Opened("gw-dead.2", 1)])));
        Assert.True(await acmeGrain.ApplyAsync(Events("gw-live", opened: [Opened("gw-live.1", 2)])));
        Assert.True(await betaGrain.ApplyAsync(Events("gw-dead", opened: [Opened("gw-dead.3", 3)])));
        Assert.Equal(3, (await acmeGrain.ListAsync(Everything)).Total);
        Assert.Equal(1, (await betaGrain.ListAsync(Everything)).Total);

        // gw-dead stops heartbeating; the reaper of a silo outside this cluster declares it dead.
        await ExecuteAsync(database, "UPDATE gateway_nodes SET last_heartbeat_at = CASE id WHEN 'gw-dead' THEN now() - interval '1 hour' ELSE now() END");
        await using (var dataSource = database.CreateDataSource())
        {
            var services = PlatformTestCluster.Services(cluster.Silos[0]);
            var reaper = new GatewayReaper(
                dataSource, PlatformTestCluster.Grains(cluster.Silos[0]), services.GetRequiredService<IHostApplicationLifetime>(),
                new PlatformOptions(), new PlatformClock(TimeProvider.System), NullLogger<GatewayReaper>.Instance);
            Assert.Equal(["gw-dead"], await reaper.ReapOnceAsync(CancellationToken.None));
        }

        Assert.Equal(["gw-live.1"], (await acmeGrain.ListAsync(Everything)).Items.Select(c => c.Id));
        Assert.Null(await acmeGrain.GetAsync("gw-dead.1"));
        Assert.Empty((await betaGrain.ListAsync(Everything)).Items);
        // A late batch of the dead gateway is refused and changes nothing.
        Assert.False(await acmeGrain.ApplyAsync(Events("gw-dead", opened: [Opened("gw-dead.4", 4)])));
        Assert.Equal(["gw-live.1"], (await acmeGrain.ListAsync(Everything)).Items.Select(c => c.Id));
        Assert.Equal(3L, await ScalarAsync<long>(database, "SELECT count(*) FROM connections WHERE close_reason = 'gateway lost'"));
    }

    /// <summary>A silo app whose clock stands still, so its own reaper never declares this test's gateways dead.</summary>
    private static SiloApp Silo(TestDatabase database) => new(database) { Time = new ManualTimeProvider(DateTimeOffset.UtcNow) };

    private static TenantConnectionEvents Events(
        string gatewayId, ConnectionOpenedEvent[]? opened = null, ConnectionCountersEvent[]? counters = null, ConnectionClosedEvent[]? closed = null) =>
        new(gatewayId, opened ?? [], counters ?? [], closed ?? []);

    private static ConnectionOpenedEvent Opened(string id, int second) =>
        new(id, "ws", "192.0.2.10", 50000 + second, 8080, At.AddSeconds(second), null, "{\"subProtocol\": \"chat\"}");

    private static ConnectionCountersEvent Counters(string id, long bytes, int second) =>
        new(id, bytes, bytes * 2, bytes / 10, bytes / 5, At.AddSeconds(second));

    private static ConnectionClosedEvent Closed(string id, long bytes, int second) =>
        new(Counters(id, bytes, second), At.AddSeconds(second + 1), 1000, "normal");

    /// <summary>The tenant's open rows, in listing order, read as the grain reads them.</summary>
    private static async Task<List<LiveConnection>> StoredOpenAsync(TestDatabase database, Guid tenantId)
    {
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        return (await connection.QueryAsync<LiveConnection>(
            """
            SELECT id AS Id, gateway_id AS GatewayId, protocol AS Protocol, remote_address AS RemoteAddress, remote_port AS RemotePort,
                   local_port AS LocalPort, opened_at AS OpenedAt, bytes_in AS BytesIn, bytes_out AS BytesOut, messages_in AS MessagesIn,
                   messages_out AS MessagesOut, last_activity_at AS LastActivityAt, tls::text AS TlsJson, websocket::text AS WebSocketJson,
                   metadata::text AS MetadataJson, forward_target AS ForwardTarget
            FROM connections WHERE tenant_id = @tenantId AND closed_at IS NULL ORDER BY opened_at, id
            """, new { tenantId })).AsList();
    }

    /// <summary>Every row, every column, as text.</summary>
    private static async Task<List<string>> AllRowsAsync(TestDatabase database)
    {
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        return (await connection.QueryAsync<string>("SELECT c::text FROM connections c ORDER BY id")).AsList();
    }

    private static async Task<T> ScalarAsync<T>(TestDatabase database, string sql)
    {
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        return (await connection.ExecuteScalarAsync<T>(sql))!;
    }

    private static async Task ExecuteAsync(TestDatabase database, string sql)
    {
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        await connection.ExecuteAsync(sql);
    }
}
