namespace Platform.Contracts.Config;

/// <summary>WebSocket policy (the seeds' WebSocketOpenRequest decisions, made by configuration).</summary>
public sealed record WebSocketConfig
{
    /// <summary>Origins allowed to open a connection (exact, or <c>https://*.example.com</c>); empty admits any origin.</summary>
    public IReadOnlyList<string> AllowedOrigins { get; init; } = [];

    /// <summary>Sub-protocols the tenant speaks, in preference order; the first one the client also offers is chosen.</summary>
    public IReadOnlyList<string> SubProtocols { get; init; } = [];

    /// <summary>Largest message accepted from a client in bytes; a larger one closes the connection with 1009.</summary>
    public int MaxMessageSize { get; init; } = 1_048_576;

    /// <summary>Seconds between server pings; 0 disables pings.</summary>
    public int PingIntervalSeconds { get; init; } = 30;

    /// <summary>Seconds to wait for a pong before the connection is closed.</summary>
    public int PongTimeoutSeconds { get; init; } = 10;

    /// <summary>Accept permessage-deflate when the client offers it.</summary>
    public bool PerMessageDeflate { get; init; }
}
