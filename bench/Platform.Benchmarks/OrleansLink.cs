using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Serialization;
using Platform.Cluster;
using Platform.Cluster.Tls;
using Platform.Testing;

namespace Platform.Benchmarks;

/// <summary>The harness as an Orleans client of one silo, set up as a gateway of the Orleans build sets up its client.</summary>
internal static class OrleansLink
{
    /// <summary>The cluster id and service id the silos run with by default (<c>Platform:Cluster:ClusterId</c>).</summary>
    private const string ClusterId = "platform";
    private const string ServiceId = "platform";

    /// <summary>
    /// Starts a client host connected to <paramref name="silo"/>'s Orleans gateway port: static clustering, the platform's
    /// JSON serializer for <c>Platform.Contracts</c> shapes. Every client setting lives here: when the cluster transport
    /// gets TLS, the client's certificate goes in this method and nowhere else.
    /// </summary>
    public static async Task<IHost> ConnectAsync(SiloProcess silo, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(silo);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client =>
        {
            client.UseStaticClustering(new IPEndPoint(IPAddress.Loopback, silo.GatewayPort));
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = ClusterId;
                o.ServiceId = ServiceId;
            });
            // The harness's silos trust the test cluster CA; this client presents a gateway certificate of it.
            client.UsePlatformTls(ClusterCertificates.Cluster.Gateway.Load(ClusterTlsRole.Client));
        });
        builder.Services.AddSerializer(s => s.AddPlatformContracts());
        var host = builder.Build();
        try
        {
            await host.StartAsync(cancellationToken);
        }
        catch
        {
            host.Dispose();
            throw;
        }

        return host;
    }
}
