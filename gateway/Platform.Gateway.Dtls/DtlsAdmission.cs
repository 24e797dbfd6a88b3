namespace Platform.Gateway.Dtls;

/// <summary>Answer of <see cref="IDtlsSessionHandler.Admit"/>.</summary>
public enum DtlsAdmission
{
    /// <summary>Continue the handshake.</summary>
    Accept,

    /// <summary>End the handshake with an access_denied alert.</summary>
    Refuse,

    /// <summary>
    /// Not yet: say nothing, and serve the client's retransmission a second or so later. For a refusal
    /// that may pass in a moment, such as a MaxConnections slot still on its way from the silo. At the
    /// ClientHello (tenant from SNI or a dedicated port) the handshake ends without an alert and the
    /// retransmitted ClientHello starts a new one; for a tenant known only from the PSK identity in the
    /// client's second flight, that flight is dropped unread and the handshake waits for its retransmission.
    /// </summary>
    Defer,
}
