using System.Net;
using Orleans.Configuration;
using Orleans.Serialization;
using Platform.Cluster;
using Platform.Cluster.Telemetry;
using Platform.Cluster.Tls;

namespace Platform.Silo.Cluster;

/// <summary>Hosts Orleans in the silo process, beside the REST API, on the platform's PostgreSQL.</summary>
internal static class ClusterHosting
{
    /// <summary>The Orleans service id: one per product, stable across deployments and cluster ids.</summary>
    public const string ServiceId = "platform";

    /// <summary>
    /// Adds the Orleans silo. Call after the migrations' hosted service: hosted services start in order, and the
    /// membership table must exist before Orleans reads it. Loads the cluster TLS material first, so a missing or unusable
    /// certificate stops the process before anything starts.
    /// </summary>
    public static WebApplicationBuilder AddPlatformCluster(this WebApplicationBuilder builder, PlatformOptions platform)
    {
        var cluster = platform.Cluster;
        var tls = ClusterTlsMaterial.Load(cluster.Tls, ClusterTlsRole.Silo, TimeProvider.System);
        builder.UseOrleans(silo =>
        {
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = cluster.ClusterId;
                o.ServiceId = ServiceId;
            });
            // Failure detection: how soon grains of a silo that died come back on the others.
            silo.Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = TimeSpan.FromSeconds(cluster.ProbeTimeoutSeconds);
                o.NumMissedProbesLimit = cluster.MissedProbesLimit;
            });
            silo.Configure<EndpointOptions>(o =>
            {
                o.AdvertisedIPAddress = cluster.Advertised;
                o.SiloPort = cluster.SiloPort;
                o.GatewayPort = cluster.GatewayPort;
                o.SiloListeningEndpoint = new IPEndPoint(cluster.Address, cluster.SiloPort);
                o.GatewayListeningEndpoint = new IPEndPoint(cluster.Address, cluster.GatewayPort);
            });
            silo.UsePlatformTls(tls);
            // Gateways' calls carry the shapes of Platform.Contracts.
            silo.Services.AddSerializer(static s => s.AddPlatformContracts());
            silo.Services.AddSingleton<Orleans.IMembershipTable, PostgresMembershipTable>();
            // Grain call latency by interface and method (docs/metrics.md).
            silo.AddIncomingGrainCallFilter<GrainCallMetrics>();
        });
        return builder;
    }
}
