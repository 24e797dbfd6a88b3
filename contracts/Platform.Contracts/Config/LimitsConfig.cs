namespace Platform.Contracts.Config;

/// <summary>Connection quotas and admission rates.</summary>
public sealed record LimitsConfig
{
    /// <summary>Default for <see cref="MaxConnections"/> (the seeds' default).</summary>
    public const int DefaultMaxConnections = 1000;
    /// <summary>Upper bound for <see cref="MaxConnections"/> (the seeds' maximum).</summary>
    public const int MaxMaxConnections = 100_000;

    /// <summary>Simultaneous connections across the whole cluster, 1..100000; capped by the plan.</summary>
    public int MaxConnections { get; init; } = DefaultMaxConnections;

    /// <summary>New connections accepted per second per tenant; 0 means as many as the plan allows.</summary>
    public int ConnectionsPerSecond { get; init; }

    /// <summary>Simultaneous connections from one client IP address; 0 means unlimited.</summary>
    public int MaxConnectionsPerClient { get; init; }

    /// <summary>
    /// TLS, wss and DTLS handshakes in progress for the tenant at once on one gateway (TLS from the ClientHello naming the
    /// tenant, DTLS after the cookie exchange); capped by the plan.
    /// </summary>
    public int MaxHalfOpenHandshakes { get; init; } = 256;

    /// <summary>Handshakes in progress from one client (an IPv4 address or an IPv6 /64) at once; capped by the plan.</summary>
    public int MaxHalfOpenHandshakesPerClient { get; init; } = 16;
}
