namespace Platform.Contracts.Config;

/// <summary>Connection timeouts, in seconds.</summary>
public sealed record TimeoutsConfig
{
    /// <summary>
    /// DefaultIdleTimeout: a connection with no byte in or out for this long is closed.
    /// 0 (the seeds' default) disables the idle timeout.
    /// </summary>
    public int IdleTimeoutSeconds { get; init; }

    /// <summary>
    /// DefaultConnectionTimeout: the longest a TLS, DTLS or WebSocket handshake may take.
    /// The seeds default to 0 (no limit); a shared gateway cannot hold handshakes that never finish,
    /// so the platform defaults to 20 seconds and allows 1..300.
    /// </summary>
    public int HandshakeTimeoutSeconds { get; init; } = 20;
}
