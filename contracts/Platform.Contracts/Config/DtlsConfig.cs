namespace Platform.Contracts.Config;

/// <summary>
/// DTLS features beyond the handshake: RFC 6520 heartbeats, RFC 9146 connection IDs and RFC 7250 raw public keys. A
/// session that uses any of them is served by the gateway's second DTLS engine; every other session keeps the first.
/// </summary>
public sealed record DtlsConfig
{
    /// <summary>Lowest heartbeat interval when heartbeats are on, in seconds.</summary>
    public const int MinHeartbeatIntervalSeconds = 5;

    /// <summary>Highest heartbeat interval, in seconds.</summary>
    public const int MaxHeartbeatIntervalSeconds = 3600;

    /// <summary>Highest heartbeat timeout, in seconds.</summary>
    public const int MaxHeartbeatTimeoutSeconds = 600;

    /// <summary>
    /// Seconds of silence after which the gateway sends a heartbeat request to a client that offered the heartbeat
    /// extension. 0 (the default) turns heartbeats off; otherwise 5..3600.
    /// </summary>
    public int HeartbeatIntervalSeconds { get; init; }

    /// <summary>
    /// Seconds the gateway waits for the answer to a heartbeat request before it ends the session, 1..600 and at most the
    /// interval. Default 30.
    /// </summary>
    public int HeartbeatTimeoutSeconds { get; init; } = 30;

    /// <summary>RFC 9146 connection IDs: a session that keeps its identity when the client's address changes.</summary>
    public DtlsConnectionIdConfig ConnectionIds { get; init; } = new();

    /// <summary>RFC 7250 raw public keys: clients that authenticate with a bare public key the tenant registered.</summary>
    public DtlsRawPublicKeyConfig RawPublicKeys { get; init; } = new();
}

/// <summary>Connection IDs (RFC 9146) that the gateway hands to clients that ask for them.</summary>
public sealed record DtlsConnectionIdConfig
{
    /// <summary>Shortest connection ID, in bytes.</summary>
    public const int MinLength = 4;

    /// <summary>Longest connection ID, in bytes.</summary>
    public const int MaxLength = 16;

    /// <summary>Whether the gateway negotiates connection IDs (default false).</summary>
    public bool Enabled { get; init; }

    /// <summary>Length of the connection IDs the gateway issues, 4..16 bytes (default 8).</summary>
    public int Length { get; init; } = 8;
}

/// <summary>Raw public keys (RFC 7250) as client credentials.</summary>
public sealed record DtlsRawPublicKeyConfig
{
    /// <summary>
    /// Whether clients may authenticate with a raw public key registered under
    /// <c>/v1/tenants/{slug}/raw-public-keys</c> (default false).
    /// </summary>
    public bool Enabled { get; init; }
}
