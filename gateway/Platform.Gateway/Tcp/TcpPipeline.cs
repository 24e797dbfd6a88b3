using System.IO.Pipelines;
using System.Net;
using Platform.Contracts.Connections;
using Platform.Gateway.Connections;
using Platform.Gateway.Delivery;
using Platform.Gateway.Hosting;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Tcp;

/// <summary>
/// Serves one admitted TCP or TLS client through the <see cref="ConnectionPump"/>: the delivery starts first (an
/// unreachable forward backend closes the client), then framed client messages go to the delivery and delivery output
/// to the client.
/// </summary>
internal sealed class TcpPipeline(ConnectionPump pump, GatewayNode node, DeliveryFactory deliveries, TimeProvider time)
{
    /// <summary>Runs the connection to its end. The caller owns the admission ticket and the transport.</summary>
    public Task RunAsync(TenantRuntime tenant, IDuplexPipe transport, IPEndPoint remote, IPEndPoint local, string protocol, TlsFacts? tls, CancellationToken aborted)
    {
        var connectionId = node.NextConnectionId();
        var connection = new TcpConnection(connectionId, tenant, protocol, remote, local.Port, time, transport) { Tls = tls };
        return pump.RunAsync(
            connection,
            connection,
            (facts, cancellationToken) => deliveries.CreateAsync(tenant, facts, messageProtocol: false, cancellationToken),
            new ConnectionFacts(connectionId, protocol, remote, local, tls?.Sni, tls),
            aborted);
    }
}
