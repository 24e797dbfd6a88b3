using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Orleans;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.TestingHost;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Problems;
using Platform.Silo.Cluster;
using Platform.Silo.Tenants.Grains;
using Platform.Silo.Tests.Cluster;
using Platform.Testing;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.Tenants.Grains;

/// <summary>
/// The tenant grain in a cluster of two silos on the platform's membership table and a real database: concurrent
/// writes with one If-Match, an activation whose memory another writer made stale, and the loss of the silo holding it.
/// </summary>
public sealed class TenantGrainClusterTests
{
    [Fact]
    public async Task ReplaceConfig_SameIfMatchThroughTwoSilos_ExactlyOneWinsTheOtherIsStale()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await CreateTenantAsync(silo.OperatorClient(), "acme");
        await using var cluster = await PlatformTestCluster.StartAsync(database);
        var first = PlatformTestCluster.Grains(cluster.Silos[0]).GetGrain<ITenantGrain>("acme");
        var second = PlatformTestCluster.Grains(cluster.Silos[1]).GetGrain<ITenantGrain>("acme");
        var tenant = (await first.GetAsync())!;

        var replies = await Task.WhenAll(
            first.ReplaceConfigAsync(Replace(tenant, tenant.Row.ConfigRevision, maxConnections: 11)),
            second.ReplaceConfigAsync(Replace(tenant, tenant.Row.ConfigRevision, maxConnections: 22)));

        var won = Assert.Single(replies, r => r.Problem is null);
        var lost = Assert.Single(replies, r => r.Problem is not null);
        Assert.Equal((int)HttpStatusCode.PreconditionFailed, lost.Problem!.Status);
        Assert.Equal(ErrorCodes.StaleRevision, lost.Problem.Code);
        var stored = await StoredAsync(database, tenant.Id);
        Assert.Equal(won.Tenant!.Row.ConfigRevision, stored.ConfigRevision);
        Assert.Equal(won.Tenant.Config().Limits.MaxConnections, stored.MaxConnections);
        AssertSame(won.Tenant, await second.GetAsync());
    }

    [Fact]
    public async Task ReplaceConfig_AnotherActivationWroteMeanwhile_StaleGrainReloadsAndRefusesTheOldIfMatch()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await CreateTenantAsync(silo.OperatorClient(), "acme");
        await using var cluster = await PlatformTestCluster.StartAsync(database);
        var grain = PlatformTestCluster.Grains(cluster.Silos[0]).GetGrain<ITenantGrain>("acme");
        var held = (await grain.GetAsync())!;

        // The silo app is a cluster of its own on the same database: its grain is a second activation of this tenant,
        // and its write moves the tenant on behind this activation's back.
        using var other = await silo.OperatorClient().SendAsync(new HttpRequestMessage(HttpMethod.Put, Url("/v1/tenants/acme/config"))
        {
            Content = Json(new TenantConfig { Limits = new LimitsConfig { MaxConnections = 5 } }),
            Headers = { { "If-Match", $"\"{held.Row.ConfigRevision}\"" } },
        });
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        var moved = await StoredAsync(database, held.Id);

        var reply = await grain.ReplaceConfigAsync(Replace(held, held.Row.ConfigRevision, maxConnections: 99));

        Assert.Equal(ErrorCodes.StaleRevision, reply.Problem?.Code);
        Assert.Equal(moved, await StoredAsync(database, held.Id));
        var reloaded = (await grain.GetAsync())!;
        Assert.Equal(moved.ConfigRevision, reloaded.Row.ConfigRevision);
        Assert.Equal(5, reloaded.Config().Limits.MaxConnections);

        // With the ETag it now holds, the same activation writes again.
        var next = await grain.ReplaceConfigAsync(Replace(reloaded, reloaded.Row.ConfigRevision, maxConnections: 99));
        Assert.Null(next.Problem);
        Assert.Equal(99, (await StoredAsync(database, held.Id)).MaxConnections);
    }

    [Fact]
    public async Task SetStatus_RowChangedInSqlBehindTheGrainsBack_ReloadsAndDecidesOnTheStoredRow()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await CreateTenantAsync(silo.OperatorClient(), "acme");
        await using var cluster = await PlatformTestCluster.StartAsync(database);
        var grain = PlatformTestCluster.Grains(cluster.Silos[0]).GetGrain<ITenantGrain>("acme");
        var held = (await grain.GetAsync())!;
        await ExecuteAsync(database, "UPDATE tenants SET status = 'suspended', revision = revision + 1000 WHERE id = @id", held.Id);

        var reply = await grain.SetStatusAsync(null, "suspended", "test");

        // Held in memory the tenant was active; stored it is already suspended: nothing to change, and memory follows SQL.
        Assert.Null(reply.Problem);
        Assert.Equal("suspended", reply.Tenant!.Row.Status);
        Assert.Equal(held.Row.Revision + 1000, reply.Tenant.Row.Revision);
        Assert.Equal(0L, await CountAsync(database, "SELECT count(*) FROM audit_log WHERE action = 'tenant.suspend'"));
    }

    [Fact]
    public async Task Grain_SiloHoldingTheActivationKilled_ConfigAndRevisionComeBackIntactOnTheSurvivor()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await CreateTenantAsync(silo.OperatorClient(), "acme");
        await using var cluster = await PlatformTestCluster.StartAsync(database);
        var grain = PlatformTestCluster.Grains(cluster.Silos[1]).GetGrain<ITenantGrain>("acme");
        var tenant = (await grain.GetAsync())!;
        TenantReply acknowledged = new(null, tenant);
        for (var i = 1; i <= 3; i++)
        {
            acknowledged = await grain.ReplaceConfigAsync(Replace(acknowledged.Tenant!, acknowledged.Tenant!.Row.ConfigRevision, maxConnections: 100 + i));
            Assert.Null(acknowledged.Problem);
        }

        var holder = await PlatformTestCluster.Grains(cluster.Silos[0]).GetGrain<IManagementGrain>(0).GetActivationAddress(grain);
        var dying = cluster.Silos.Single(s => s.SiloAddress.Equals(holder));
        var survivor = cluster.Silos.Single(s => !s.SiloAddress.Equals(holder));

        await cluster.KillSiloAsync(dying);

        var again = PlatformTestCluster.Grains(survivor).GetGrain<ITenantGrain>("acme");
        var after = await PlatformTestCluster.UntilAnsweredAsync(again.GetAsync);
        AssertSame(acknowledged.Tenant!, after);
        Assert.Equal(103, after!.Config().Limits.MaxConnections);
        var next = await again.ReplaceConfigAsync(Replace(after, after.Row.ConfigRevision, maxConnections: 104));
        Assert.Null(next.Problem);
        Assert.Equal(survivor.SiloAddress, await PlatformTestCluster.Grains(survivor).GetGrain<IManagementGrain>(0).GetActivationAddress(again));
    }

    private static void AssertSame(TenantState expected, TenantState? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.Row, actual.Row);
        Assert.Equal(expected.HostNames, actual.HostNames);
        Assert.Equal(expected.Ports, actual.Ports);
        Assert.Equal(expected.ConfigJson, actual.ConfigJson);
    }

    private static ReplaceConfigCommand Replace(TenantState tenant, long expected, int maxConnections) =>
        new(null, tenant.Id, expected,
            JsonSerializer.Serialize(new TenantConfig { Limits = new LimitsConfig { MaxConnections = maxConnections } }, PlatformJson.Options),
            null, "test");

    private static async Task<(long ConfigRevision, int MaxConnections)> StoredAsync(TestDatabase database, Guid tenantId)
    {
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT t.config_revision, (c.config->'limits'->>'maxConnections')::int
            FROM tenants t JOIN tenant_configs c ON c.tenant_id = t.id AND c.revision = t.config_revision
            WHERE t.id = @tenantId
            """, connection);
        command.Parameters.AddWithValue("tenantId", tenantId);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return (reader.GetInt64(0), reader.GetInt32(1));
    }

    private static async Task ExecuteAsync(TestDatabase database, string sql, Guid id)
    {
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("id", id);
        Assert.Equal(1, await command.ExecuteNonQueryAsync());
    }

    private static async Task<long> CountAsync(TestDatabase database, string sql)
    {
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
