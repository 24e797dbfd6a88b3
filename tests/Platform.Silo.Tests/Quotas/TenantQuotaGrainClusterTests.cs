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
using Platform.Silo.Tests.Internal;
using Platform.Testing;

namespace Platform.Silo.Tests.Quotas;

/// <summary>
/// The quota grain in a cluster of two silos on the platform's membership table and a real database: grants survive
/// the loss of the silo holding the activation, and an activation whose view is stale never over-grants.
/// </summary>
public sealed class TenantQuotaGrainClusterTests
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Grant_SiloHoldingTheActivationKilled_NextActivationLoadsTheLeasesAndNeverOvershoots()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", maxConnections: 10);
        await silo.RegisterGatewayAsync("gw-a");
        await silo.RegisterGatewayAsync("gw-b");
        await using var cluster = await StartClusterAsync(database);

        var grain = Grains(cluster.Silos[1]).GetGrain<ITenantQuotaGrain>(tenantId);
        Assert.Equal(7, (await grain.SyncAsync(new QuotaRequest("gw-a", 7, 0, 0, 0))).Slots);
        var holder = await Grains(cluster.Silos[0]).GetGrain<IManagementGrain>(0).GetActivationAddress(grain);
        var dying = cluster.Silos.Single(s => s.SiloAddress.Equals(holder));
        var survivor = cluster.Silos.Single(s => !s.SiloAddress.Equals(holder));

        await cluster.KillSiloAsync(dying);

        var again = Grains(survivor).GetGrain<ITenantQuotaGrain>(tenantId);
        var b = await UntilAnsweredAsync(() => again.SyncAsync(new QuotaRequest("gw-b", 10, 0, 0, 0)));
        Assert.Equal(3, b.Slots);
        Assert.Equal(7, (await again.SyncAsync(new QuotaRequest("gw-a", 10, 7, 7, 0))).Slots);
        Assert.Equal(10L, await SumAsync(database, tenantId));
        Assert.Equal(survivor.SiloAddress, await Grains(survivor).GetGrain<IManagementGrain>(0).GetActivationAddress(again));
    }

    [Fact]
    public async Task Grant_VersionMovedBehindTheGrainsBack_ReloadsAndNeverExceeds()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", maxConnections: 10);
        await silo.RegisterGatewayAsync("gw-a");
        await silo.RegisterGatewayAsync("gw-b");
        await using var cluster = await StartClusterAsync(database);
        var grain = Grains(cluster.Silos[0]).GetGrain<ITenantQuotaGrain>(tenantId);
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
        await using var cluster = await StartClusterAsync(database);
        var other = Grains(cluster.Silos[0]).GetGrain<ITenantQuotaGrain>(tenantId);
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

    private static IGrainFactory Grains(SiloHandle silo) => ((InProcessSiloHandle)silo).ServiceProvider.GetRequiredService<IGrainFactory>();

    private static async Task<TestCluster> StartClusterAsync(TestDatabase database)
    {
        var builder = new TestClusterBuilder(2);
        builder.Options.UseTestClusterMembership = false;
        // Calls go through the silos' own grain factories: an external client would need a gateway list provider.
        builder.Options.InitializeClientOnDeploy = false;
        builder.Properties[ConnectionStringKey] = database.ConnectionString;
        builder.AddSiloBuilderConfigurator<PlatformSiloConfigurator>();
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    private const string ConnectionStringKey = "PlatformTest:ConnectionString";

    /// <summary>What ClusterHosting gives a silo: the platform's database, clock and membership table, and the grain's services.</summary>
    private sealed class PlatformSiloConfigurator : IHostConfigurator
    {
        public void Configure(IHostBuilder hostBuilder)
        {
            var configuration = hostBuilder.GetConfiguration();
            var connectionString = configuration[ConnectionStringKey]!;
            var platform = new PlatformOptions { ConnectionString = connectionString, ClusterSecret = "cs_cluster_test" };
            platform.Cluster.ClusterId = configuration["Orleans:ClusterId"] ?? throw new InvalidOperationException("The test cluster has no cluster id.");
            hostBuilder.ConfigureServices(services =>
            {
                services.AddSingleton(platform);
                services.AddSingleton(_ => NpgsqlDataSource.Create(connectionString));
                services.AddSingleton(new PlatformClock(TimeProvider.System));
                services.AddSingleton<IMembershipTable, PostgresMembershipTable>();
                services.AddGatewayCommands();
                services.AddSingleton<LeaseSyncNotifier>();
                // A killed silo is declared dead within seconds rather than after the production defaults.
                services.Configure<ClusterMembershipOptions>(o =>
                {
                    o.ProbeTimeout = TimeSpan.FromSeconds(1);
                    o.NumMissedProbesLimit = 2;
                    o.NumVotesForDeathDeclaration = 1;
                    o.TableRefreshTimeout = TimeSpan.FromSeconds(1);
                });
                services.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(5));
            });
        }
    }

    /// <summary>Calls until the cluster has noticed a lost silo and the call is answered.</summary>
    private static async Task<T> UntilAnsweredAsync<T>(Func<Task<T>> call)
    {
        using var limit = new CancellationTokenSource(WaitLimit);
        while (true)
        {
            try
            {
                return await call();
            }
            catch (Exception e) when (e is SiloUnavailableException or TimeoutException or OrleansMessageRejectionException && !limit.IsCancellationRequested)
            {
                await Task.Delay(200, limit.Token);
            }
        }
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
