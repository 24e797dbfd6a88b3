using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Platform.Gateway.ProxyProtocol;

/// <summary>Puts the PROXY protocol gate on a Kestrel listener (ws, wss, SNI-routed TLS).</summary>
internal static class ProxyProtocolListener
{
    /// <summary>
    /// When <paramref name="listener"/> is marked <c>required</c>: connection middleware that must come first, before TLS
    /// and every middleware that reads the remote end point (the half-open caps count the carried client, not the load
    /// balancer). The header is consumed and the connection's remote end point becomes the client's; a refused
    /// connection returns without calling the rest, and Kestrel closes it. Unmarked: nothing is added.
    /// </summary>
    public static ListenOptions UseProxyProtocol(this ListenOptions listen, ProxyProtocolGate gate, ProxyListener listener)
    {
        if (!gate.IsRequired(listener))
        {
            return listen;
        }

        listen.Use(next => async connection =>
        {
            var client = await gate.AcceptAsync(connection.Transport.Input, connection.RemoteEndPoint as IPEndPoint, listener, connection.ConnectionClosed);
            if (client is null)
            {
                return;
            }

            connection.RemoteEndPoint = client;
            await next(connection);
        });
        return listen;
    }
}
