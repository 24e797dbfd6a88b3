namespace Platform.Gateway.Dtls;

/// <summary>
/// The gateway's side of a DTLS listener. Calls for one session never overlap; calls for different sessions may, as
/// they arrive on the listener's workers (thread-pool threads) or its timer: return quickly and hand slow work
/// elsewhere.
/// </summary>
public interface IDtlsSessionHandler
{
    /// <summary>
    /// The tenant of a handshake is known (SNI or dedicated port: before the server's first flight; PSK without SNI:
    /// when the identity arrives). Runs inside OpenSSL: decide from memory, do not call back into the session.
    /// Refusal ends the handshake with an access_denied alert. Every accepted session later gets exactly one
    /// <see cref="OnSessionClosed"/>, whether or not its handshake completes.
    /// </summary>
    DtlsAdmission Admit(DtlsSession session);

    /// <summary>
    /// The tenant's half-open cap (<see cref="Tenants.DtlsTenantSettings.MaxHalfOpenHandshakes"/>, or its per-client
    /// cap for the source's prefix) refused a handshake; <see cref="DtlsSession.Tenant"/> names the tenant. The
    /// handshake ends with an alert (access_denied; for a tenant named by the PSK identity, the PSK lookup fails)
    /// without <see cref="Admit"/> being asked. For counting only.
    /// </summary>
    void OnHalfOpenLimit(DtlsSession session)
    {
    }

    /// <summary>The handshake completed.</summary>
    void OnSessionOpened(DtlsSession session);

    /// <summary>
    /// One application datagram arrived, decrypted into a pooled buffer. The handler owns it from the call on and must
    /// <see cref="DtlsDatagram.Return"/> it exactly once (at once, or after handing it on); if the call throws, the
    /// listener does not return it.
    /// </summary>
    void OnDatagram(DtlsSession session, DtlsDatagram datagram);

    /// <summary>
    /// A session with a connection ID moved to a new client address (<see cref="DtlsSession.RemoteEndPoint"/>) on an
    /// authenticated record that was the newest seen (RFC 9146 section 6).
    /// </summary>
    void OnAddressChanged(DtlsSession session)
    {
    }

    /// <summary>An admitted session ended; <see cref="DtlsSession.IsEstablished"/> tells whether it ever opened.</summary>
    void OnSessionClosed(DtlsSession session, DtlsCloseReason reason);
}
