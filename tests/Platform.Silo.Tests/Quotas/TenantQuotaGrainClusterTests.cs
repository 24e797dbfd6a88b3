using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Orleans;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.TestingHost;
using Platform.Contracts.Internal;
using Platform.Silo.Cluster;
using Platform.Silo.Gateways;
using Platform.Silo.Quotas;
using Platform.Silo.Tests.Cluster;
using Platform.Silo.Tests.Internal;
using Platform.Testing;

namespace Platform.Silo.Tests.Quotas;

/// <summary>
/// The quota grain in a cluster of two silos on the platform's membership table and a real database: grants survive
/// the loss of the silo holding the activation, and an activation whose view is stale never over-grants.
/// </summary>
public sealed class TenantQuotaGrainClusterTests
{
    [Fact]
    public async Task Grant_SiloHoldingTheActivationKilled_NextActivationLoadsTheLeasesAndNeverOvershoots()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", maxConnections: 10);
        await silo.RegisterGatewayAsync("gw-a");
        await silo.RegisterGatewayAsync("gw-b");
        await using var cluster = await PlatformTestCluster.StartAsync(database);

        var grain = PlatformTestCluster.Grains(cluster.Silos[1]).GetGrain<ITenantQuotaGrain>(tenantId);
        Assert.Equal(7, (await grain.SyncAsync(new QuotaRequest("gw-a", 7, 0, 0, 0))).Slots);
        var holder = await PlatformTestCluster.Grains(cluster.Silos[0]).GetGrain<IManagementGrain>(0).GetActivationAddress(grain);
        var dying = cluster.Silos.Single(s => s.SiloAddress.Equals(holder));
        var survivor = cluster.Silos.Single(s => !s.SiloAddress.Equals(holder));

        await cluster.KillSiloAsync(dying);

        var again = PlatformTestCluster.Grains(survivor).GetGrain<ITenantQuotaGrain>(tenantId);
        var b = await PlatformTestCluster.UntilAnsweredAsync(() => again.SyncAsync(new QuotaRequest("gw-b", 10, 0, 0, 0)));
        Assert.Equal(3, b.Slots);
        Assert.Equal(7, (await again.SyncAsync(new QuotaRequest("gw-a", 10, 7, 7, 0))).Slots);
        Assert.Equal(10L, await SumAsync(database, tenantId));
        Assert.Equal(survivor.SiloAddress, await PlatformTestCluster.Grains(survivor).GetGrain<IManagementGrain>(0).GetActivationAddress(again));
    }

    [Fact]
    public async Task Grant_VersionMovedBehindTheGrainsBack_ReloadsAndNeverExceeds()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", maxConnections: 10);
        await silo.RegisterGatewayAsync("gw-a");
        await silo.RegisterGatewayAsync("gw-b");
        await using var cluster = await PlatformTestCluster.StartAsync(database);
        var grain = PlatformTestCluster.Grains(cluster.Silos[0]).GetGrain<ITenantQuotaGrain>(tenantId);
        Assert.Equal(4, (await grain.SyncAsync(new QuotaRequest("gw-a", 4, 0, 0, 0))).Slots);

        // Another writer (here: SQL standing for a second activation) grants gw-b six and moves the version on.
        await using (var dataSource = database.CreateDataSource())
        await using (var connection = await dataSource.OpenConnectionAsync())
        await using (var command = new NpgsqlCommand(
            """
            INSERT INTO quota_leases (tenant_id, gateway_id, slots, updated_at) VALUES (@tenantId, 'gw-b', 6, now());
            UPDATE tenant_quotas SET quota_version = quota_version + 1 WHERE tenant_id = @tenantId;
            """, connection))
        {
            command.Parameters.AddWithValue("tenantId", tenantId);
            Assert.Equal(2, await command.ExecuteNonQueryAsync());
        }

        var answer = await grain.SyncAsync(new QuotaRequest("gw-a", 10, 0, 4, 0));

        Assert.Equal(4, answer.Slots);
        Assert.Equal(10L, await SumAsync(database, tenantId));
    }

    [Fact]
    public async Task Grant_TwoActivationsOfOneTenantInTwoClusters_SumNeverExceedsMax()
    {
        const int Max = 30;
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", maxConnections: Max);
        var gateways = Enumerable.Range(0, 6).Select(i => $"gw-{i}").ToArray();
        foreach (var gateway in gateways)
        {
            await silo.RegisterGatewayAsync(gateway);
        }

        // The silo app is a cluster of its own on the same database: its grain and this cluster's are two activations.
        await using var cluster = await PlatformTestCluster.StartAsync(database);
        var other = PlatformTestCluster.Grains(cluster.Silos[0]).GetGrain<ITenantQuotaGrain>(tenantId);
        var random = new Random(7);
        for (var round = 0; round < 8; round++)
        {
            var wants = gateways.Select(g => (Gateway: g, Slots: random.Next(0, 16))).ToList();
            await Task.WhenAll(wants.Select((w, i) => i % 2 == 0
                ? (Task)silo.SyncLeasesAsync(w.Gateway, new LeaseWant(tenantId, w.Slots))
                : other.SyncAsync(new QuotaRequest(w.Gateway, w.Slots, 0, null, 0))));

            Assert.InRange(await SumAsync(database, tenantId), 0, Max);
        }

        Assert.True(await SumAsync(database, tenantId) > 0);
    }

    private static async Task<long> SumAsync(TestDatabase database, Guid tenantId)
    {
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var command = new NpgsqlCommand("SELECT COALESCE(sum(slots), 0) FROM quota_leases WHERE tenant_id = @tenantId", connection);
        command.Parameters.AddWithValue("tenantId", tenantId);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
