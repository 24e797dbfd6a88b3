using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Platform.Contracts.Connections;
using Platform.Gateway.Admission;
using Platform.Gateway.Tenants;
using Platform.Gateway.Tls;

namespace Platform.Gateway.Tcp;

/// <summary>
/// The SNI-routed raw TLS listener. The handshake callback has already chosen the tenant and admitted
/// the client (a refusal fails the handshake); this runs the connection.
/// </summary>
internal sealed class TlsConnectionHandler(TcpPipeline pipeline) : ConnectionHandler
{
    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        if (!connection.Items.TryGetValue(TlsSelector.TenantKey, out var value) || value is not TenantRuntime tenant
            || !connection.Items.TryGetValue(TlsSelector.TicketKey, out var ticketValue) || ticketValue is not AdmissionTicket ticket)
        {
            return;
        }

        using (ticket)
        {
            SocketTuning.Apply(connection.Features.Get<IConnectionSocketFeature>()?.Socket, tenant.Config.Socket);
            var tls = connection.Features.Get<ITlsHandshakeFeature>();
            var facts = tls is null ? null : TlsSelector.Facts(tls.Protocol, tls.NegotiatedCipherSuite, tls.HostName, connection.Items);
            var remote = connection.RemoteEndPoint as IPEndPoint ?? new IPEndPoint(IPAddress.None, 0);
            var local = connection.LocalEndPoint as IPEndPoint ?? new IPEndPoint(IPAddress.None, 0);
            await pipeline.RunAsync(tenant, connection.Transport, remote, local, ConnectionProtocols.Tls, facts, connection.ConnectionClosed);
        }
    }
}
