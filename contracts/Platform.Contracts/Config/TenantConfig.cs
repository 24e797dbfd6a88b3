namespace Platform.Contracts.Config;

/// <summary>
/// A tenant's complete configuration: what a dedicated WSServer, TCPServer, WebSocketProxy or
/// DTLSServer instance would be configured with. Immutable; every change produces a new revision.
/// Defaults follow the IPWorks seed documents unless a comment says why not.
/// </summary>
public sealed record TenantConfig
{
    /// <summary>Connection quotas and rates.</summary>
    public LimitsConfig Limits { get; init; } = new();

    /// <summary>AllowedClients / BlockedClients.</summary>
    public AccessConfig Access { get; init; } = new();

    /// <summary>Idle and handshake timeouts.</summary>
    public TimeoutsConfig Timeouts { get; init; } = new();

    /// <summary>TLS and DTLS policy: protocol floor, cipher suites, client certificates.</summary>
    public TlsConfig Tls { get; init; } = new();

    /// <summary>WebSocket policy.</summary>
    public WebSocketConfig WebSocket { get; init; } = new();

    /// <summary>Socket options (Nagle, keep-alive, linger).</summary>
    public SocketConfig Socket { get; init; } = new();

    /// <summary>DTLS heartbeats, connection IDs and raw public keys.</summary>
    public DtlsConfig Dtls { get; init; } = new();

    /// <summary>How TCP and TLS byte streams are cut into messages.</summary>
    public FramingConfig Framing { get; init; } = new();

    /// <summary>Where client data goes.</summary>
    public DeliveryConfig Delivery { get; init; } = new();

    /// <summary>
    /// The listener kinds (<c>tcp</c>, <c>tls</c>, <c>ws</c>, <c>wss</c>, <c>dtls</c>) that accept the tenant's clients. Null (the default) means every
    /// kind, except plain <c>ws</c> and <c>tcp</c> while <c>tls.clientCertificates</c> is <c>required</c>; a
    /// list names exactly the kinds allowed.
    /// </summary>
    public IReadOnlyList<string>? Listeners { get; init; }

    /// <summary>
    /// Custom host names (besides <c>{slug}.&lt;platform domain&gt;</c> and certificate SANs) that
    /// route to this tenant by SNI or Host header. Unique across tenants.
    /// </summary>
    public IReadOnlyList<string> HostNames { get; init; } = [];
}
