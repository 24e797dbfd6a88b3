using Orleans.Configuration;
using Orleans.Serialization;
using Platform.Cluster;
using Platform.Cluster.Telemetry;

namespace Platform.Silo.Cluster;

/// <summary>Hosts Orleans in the silo process, beside the REST API, on the platform's PostgreSQL.</summary>
internal static class ClusterHosting
{
    /// <summary>The Orleans service id: one per product, stable across deployments and cluster ids.</summary>
    public const string ServiceId = "platform";

    /// <summary>
    /// Adds the Orleans silo. Call after the migrations' hosted service: hosted services start in order, and the
    /// membership table must exist before Orleans reads it.
    /// </summary>
    public static WebApplicationBuilder AddPlatformCluster(this WebApplicationBuilder builder, PlatformOptions platform)
    {
        var cluster = platform.Cluster;
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
            silo.ConfigureEndpoints(cluster.Address, cluster.SiloPort, cluster.GatewayPort, listenOnAnyHostAddress: false);
            silo.Services.AddSingleton<Orleans.IMembershipTable, PostgresMembershipTable>();
            // The grain call filter brings in Platform.Cluster, whose grain interfaces carry Platform.Contracts shapes.
            silo.Services.AddSerializer(static s => s.AddPlatformContracts());
            silo.AddIncomingGrainCallFilter<GrainCallMetrics>();
        });
        return builder;
    }
}
