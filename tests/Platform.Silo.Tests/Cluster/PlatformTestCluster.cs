using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Orleans;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.TestingHost;
using Platform.Cluster;
using Platform.Silo.Cluster;
using Platform.Silo.Gateways;
using Platform.Silo.Quotas;
using Platform.Testing;

namespace Platform.Silo.Tests.Cluster;

/// <summary>
/// A <see cref="TestCluster"/> of two silos on the platform's own membership table over a real test database, with
/// what <c>ClusterHosting</c> and the silo's services give the grains. Silos are declared dead within seconds of a
/// kill instead of after the production defaults. Calls go through a silo's own grain factory (<see cref="Grains"/>).
/// </summary>
internal static class PlatformTestCluster
{
    /// <summary>How long a call may take to be answered again after a silo was lost.</summary>
    public static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(60);

    private const string ConnectionStringKey = "PlatformTest:ConnectionString";

    public static async Task<TestCluster> StartAsync(TestDatabase database)
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

    public static IGrainFactory Grains(SiloHandle silo) => Services(silo).GetRequiredService<IGrainFactory>();

    public static IServiceProvider Services(SiloHandle silo) => ((InProcessSiloHandle)silo).ServiceProvider;

    /// <summary>Calls until the cluster has noticed a lost silo and the call is answered.</summary>
    public static async Task<T> UntilAnsweredAsync<T>(Func<Task<T>> call)
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

    /// <summary>What ClusterHosting and the silo's services give a silo that its grains need.</summary>
    private sealed class PlatformSiloConfigurator : IHostConfigurator
    {
        public void Configure(IHostBuilder hostBuilder)
        {
            var configuration = hostBuilder.GetConfiguration();
            var connectionString = configuration[ConnectionStringKey]!;
            var platform = new PlatformOptions { ConnectionString = connectionString, ClusterSecret = "cs_cluster_test", Domain = "platform.test" };
            platform.Cluster.ClusterId = configuration["Orleans:ClusterId"] ?? throw new InvalidOperationException("The test cluster has no cluster id.");
            hostBuilder.ConfigureServices(services =>
            {
                services.AddSingleton(platform);
                services.AddSingleton(_ => NpgsqlDataSource.Create(connectionString));
                services.AddSingleton(new PlatformClock(TimeProvider.System));
                services.AddSingleton<IMembershipTable, PostgresMembershipTable>();
                services.AddGatewayCommands();
                services.AddSingleton<LeaseSyncNotifier>();
                services.AddMetrics();
                // As ClusterHosting: the silo's grain call filter brings in Platform.Cluster and its contract shapes.
                services.AddSerializer(static s => s.AddPlatformContracts());
                services.AddSingleton<Platform.Silo.Telemetry.SiloMetrics>();
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
}
