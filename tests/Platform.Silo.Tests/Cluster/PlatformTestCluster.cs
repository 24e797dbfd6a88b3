using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Orleans;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.TestingHost;
using Platform.Cluster;
using Platform.Cluster.Tls;
using Platform.Silo.Certificates;
using Platform.Silo.Cluster;
using Platform.Silo.Events;
using Platform.Silo.Gateways;
using Platform.Silo.Internal;
using Platform.Silo.Psk;
using Platform.Silo.Quotas;
using Platform.Silo.Security;
using Platform.Testing;

namespace Platform.Silo.Tests.Cluster;

/// <summary>
/// A <see cref="TestCluster"/> of two silos on the platform's own membership table over a real test database, with
/// what <c>ClusterHosting</c> and the silo's services give the grains. Silos are declared dead within seconds of a
/// kill instead of after the production defaults. The silos talk TLS with the test process's cluster certificates, as
/// production silos do. Calls go through a silo's own grain factory (<see cref="Grains"/>), or through a cluster client
/// as a gateway's (<see cref="ConnectClientAsync"/>).
/// </summary>
internal static class PlatformTestCluster
{
    /// <summary>How long a call may take to be answered again after a silo was lost.</summary>
    public static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(60);

    private const string ConnectionStringKey = "PlatformTest:ConnectionString";

    /// <summary>
    /// Starts the two silos; they talk over memory unless <paramref name="transport"/> says otherwise (a client of
    /// <see cref="ConnectClientAsync"/> needs real sockets).
    /// </summary>
    public static async Task<TestCluster> StartAsync(TestDatabase database, ConnectionTransportType transport = ConnectionTransportType.InMemory)
    {
        var builder = new TestClusterBuilder(2);
        builder.Options.ConnectionTransport = transport;
        builder.Options.UseTestClusterMembership = false;
        // Calls go through the silos' own grain factories: an external client would need a gateway list provider.
        builder.Options.InitializeClientOnDeploy = false;
        builder.Properties[ConnectionStringKey] = database.ConnectionString;
        builder.AddSiloBuilderConfigurator<PlatformSiloConfigurator>();
        builder.AddSiloBuilderConfigurator<PlatformTlsConfigurator>();
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    public static IGrainFactory Grains(SiloHandle silo) => Services(silo).GetRequiredService<IGrainFactory>();

    public static IServiceProvider Services(SiloHandle silo) => ((InProcessSiloHandle)silo).ServiceProvider;

    /// <summary>
    /// An Orleans client of the cluster as a gateway runs one: a static list of the silos' gateway endpoints, the
    /// serializer of the contracts' shapes and a client certificate of the test cluster CA. Dispose the host to disconnect it.
    /// </summary>
    public static async Task<IHost> ConnectClientAsync(TestCluster cluster)
    {
        if (cluster.Options.ConnectionTransport != ConnectionTransportType.TcpSocket)
        {
            throw new InvalidOperationException("A client reaches the silos' gateway ports over TCP only: start the cluster with TcpSocket.");
        }

        var gateways = cluster.Silos.Select(s => s.GatewayAddress.Endpoint).ToArray();
        var options = cluster.Options;
        var host = new HostBuilder()
            .UseOrleansClient(client =>
            {
                client.UseStaticClustering(gateways);
                client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (options.ClusterId, options.ServiceId));
                client.Services.AddSerializer(static s => s.AddPlatformContracts());
                client.UsePlatformTls(ClusterCertificates.Cluster.Gateway.Load(ClusterTlsRole.Client));
            })
            .Build();
        using var limit = new CancellationTokenSource(WaitLimit);
        await host.StartAsync(limit.Token);
        return host;
    }

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
            var platform = new PlatformOptions
            {
                ConnectionString = connectionString,
                Domain = "platform.test",
                MasterKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            };
            platform.Cluster.ClusterId = configuration["Orleans:ClusterId"] ?? throw new InvalidOperationException("The test cluster has no cluster id.");
            hostBuilder.ConfigureServices(services =>
            {
                services.AddSingleton(platform);
                services.AddSingleton(_ => NpgsqlDataSource.Create(connectionString));
                services.AddSingleton(new PlatformClock(TimeProvider.System));
                services.AddSingleton<IMembershipTable, PostgresMembershipTable>();
                services.AddSerializer(static s => s.AddPlatformContracts());
                services.AddGatewayCommands();
                services.AddSingleton<LeaseSyncNotifier>();
                // What the gateways' link grain passes their calls to.
                services.AddSingleton<SecretProtector>();
                services.AddSingleton<CertificateStore>();
                services.AddSingleton<PskStore>();
                services.AddSingleton<ConfigChangeSignal>();
                services.AddSingleton(new EventOptions());
                services.AddSingleton<WebhookTargets>();
                services.AddSingleton<ConfigWatch>();
                services.AddSingleton<GatewayRegistry>();
                services.AddSingleton<ConnectionEventWriter>();
                services.AddMetrics();
                services.AddSingleton<Platform.Silo.Telemetry.SiloMetrics>();
                // A killed silo is declared dead within about six seconds. Not faster: the test silos share two cores with
                // the other test projects, and a silo stalled for a second or two by that load must not be voted dead.
                services.Configure<ClusterMembershipOptions>(o =>
                {
                    o.ProbeTimeout = TimeSpan.FromSeconds(2);
                    o.NumMissedProbesLimit = 3;
                    o.NumVotesForDeathDeclaration = 1;
                    o.TableRefreshTimeout = TimeSpan.FromSeconds(1);
                });
                services.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(15));
            });
        }
    }

    /// <summary>The cluster transport's TLS, as <c>ClusterHosting</c> sets it up, with the test process's silo certificate.</summary>
    private sealed class PlatformTlsConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => siloBuilder.UsePlatformTls(ClusterCertificates.Cluster.Silo.Load(ClusterTlsRole.Silo));
    }
}
