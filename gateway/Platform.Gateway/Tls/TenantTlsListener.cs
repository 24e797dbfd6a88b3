using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace Platform.Gateway.Tls;

/// <summary>Puts per-tenant TLS on a shared Kestrel listener (wss, SNI-routed TLS).</summary>
internal static class TenantTlsListener
{
    /// <summary>
    /// TLS chosen per handshake by <paramref name="selector"/>, between two connection middlewares: the outer one
    /// counts the connection against the gateway's half-open caps before the handshake and, when the connection ends
    /// (at once for a failed handshake), gives back what the handshake held and counts a failure without a counted
    /// refusal; the inner one runs once the handshake has completed, disarms the tenant's handshake deadline and ends
    /// its half-open count. Order matters: Kestrel runs them as added.
    /// </summary>
    public static ListenOptions UseTenantTls(this ListenOptions listen, TlsSelector selector)
    {
        listen.Use(next => async connection =>
        {
            if (!await selector.OnConnectionStartedAsync(connection))
            {
                return;
            }

            try
            {
                await next(connection);
            }
            finally
            {
                selector.OnConnectionEnded(connection);
            }
        });
        listen.UseHttps(new TlsHandshakeCallbackOptions { OnConnection = selector.OnConnection, HandshakeTimeout = selector.HandshakeCap });
        listen.Use(next => connection =>
        {
            selector.OnHandshakeCompleted(connection);
            return next(connection);
        });
        return listen;
    }
}
