namespace Platform.Contracts.Config;

/// <summary>Connection timeouts, in seconds.</summary>
public sealed record TimeoutsConfig
{
    /// <summary>Default of <see cref="DtlsIdleTimeoutSeconds"/>.</summary>
    public const int DefaultDtlsIdleTimeoutSeconds = 300;

    /// <summary>Upper limit of the idle timeouts: a week.</summary>
    public const int MaxIdleTimeoutSeconds = 7 * 24 * 3600;

    /// <summary>
    /// DefaultIdleTimeout: a connection of any protocol with no byte in or out for this long is closed.
    /// 0 (the seeds' default) disables it; DTLS sessions still end after dtlsIdleTimeoutSeconds.
    /// </summary>
    public int IdleTimeoutSeconds { get; init; }

    /// <summary>
    /// The idle timeout of DTLS sessions, which cannot be turned off: a UDP client that vanishes (killed, roamed, dropped
    /// by a NAT) sends nothing that says so, unlike a TCP peer's FIN or reset, so its session would otherwise hold a
    /// MaxConnections slot for ever. 1..604800, default 300; a shorter idleTimeoutSeconds applies to DTLS too.
    /// </summary>
    public int DtlsIdleTimeoutSeconds { get; init; } = DefaultDtlsIdleTimeoutSeconds;

    /// <summary>
    /// DefaultConnectionTimeout: the longest a TLS, DTLS or WebSocket handshake may take.
    /// The seeds default to 0 (no limit); a shared gateway cannot hold handshakes that never finish,
    /// so the platform defaults to 20 seconds and allows 1..300.
    /// </summary>
    public int HandshakeTimeoutSeconds { get; init; } = 20;
}
