namespace Platform.Gateway.Dtls;

/// <summary>Answer of <see cref="IDtlsSessionHandler.Admit"/>.</summary>
public enum DtlsAdmission
{
    /// <summary>Continue the handshake.</summary>
    Accept,

    /// <summary>End the handshake with an access_denied alert.</summary>
    Refuse,

    /// <summary>
    /// Not yet: end the handshake without a word (no alert is sent), so the client's retransmitted
    /// ClientHello, a second or so later, starts a new handshake. For a refusal that may pass in a moment,
    /// such as a MaxConnections slot still on its way from the silo. Honoured only while the handshake is
    /// at the ClientHello (tenant from SNI or a dedicated port); a tenant known only from the PSK identity
    /// arrives with the client's second flight, whose retransmission no new session could answer, so there
    /// it is a refusal.
    /// </summary>
    Defer,
}
