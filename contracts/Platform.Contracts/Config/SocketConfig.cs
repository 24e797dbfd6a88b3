namespace Platform.Contracts.Config;

/// <summary>Socket options applied to accepted TCP connections.</summary>
public sealed record SocketConfig
{
    /// <summary>TcpNoDelay: disable Nagle's algorithm (on by default on the platform, for latency).</summary>
    public bool NoDelay { get; init; } = true;

    /// <summary>
    /// KeepAlive: TCP keep-alive probes (TCP, TLS, ws and wss). DTLS sessions have RFC 6520 heartbeats instead, set by
    /// the heartbeat interval of the dtls section.
    /// </summary>
    public bool KeepAlive { get; init; }

    /// <summary>KeepAliveTime: idle seconds before the first TCP probe (the seeds' default, 60).</summary>
    public int KeepAliveTimeSeconds { get; init; } = 60;

    /// <summary>KeepAliveInterval: seconds between unanswered TCP probes (the seeds' default, 2).</summary>
    public int KeepAliveIntervalSeconds { get; init; } = 2;

    /// <summary>Linger: close only after queued data is sent (the seeds' default, true); false resets the connection.</summary>
    public bool Linger { get; init; } = true;
}
