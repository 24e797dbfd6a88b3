namespace Platform.Gateway.Dtls;

/// <summary>Why a session ended.</summary>
public enum DtlsCloseReason
{
    /// <summary>The peer sent close_notify.</summary>
    PeerClosed,

    /// <summary><see cref="DtlsSession.Close"/> was called; close_notify was sent.</summary>
    LocalClose,

    /// <summary>No datagram in or out within the tenant's idle timeout; close_notify was sent.</summary>
    IdleTimeout,

    /// <summary>The handshake did not finish in time or retransmissions ran out.</summary>
    HandshakeTimeout,

    /// <summary>The handshake failed (alert sent or received, bad certificate, unknown PSK identity...).</summary>
    HandshakeFailed,

    /// <summary>A fatal alert or protocol error on an established session.</summary>
    ProtocolError,

    /// <summary>The same address started a new handshake with a valid cookie; the old session was dropped.</summary>
    Replaced,

    /// <summary>The listener stopped; close_notify was sent.</summary>
    ServerStopping,

    /// <summary>The client did not answer an RFC 6520 heartbeat request within the tenant's heartbeat timeout.</summary>
    HeartbeatTimeout,
}
