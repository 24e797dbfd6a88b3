namespace Platform.Contracts.Problems;

/// <summary>
/// Why a gateway refused a connection: the one vocabulary of refusals. A refusal is counted under its
/// <see cref="RefusalReasons.Name"/> (<c>GET /v1/refusals</c>, <c>GET /v1/tenants/{slug}/refusals</c>), and a refused ws
/// or wss client reads the same word as the <c>code</c> of its problem document (except <see cref="BackendForbidden"/>,
/// answered as <see cref="BackendUnreachable"/>). docs/architecture.md ("Refusals") tables each reason's HTTP status,
/// TLS or DTLS alert and meaning.
/// </summary>
public enum RefusalReason
{
    /// <summary>Not refused.</summary>
    None = 0,

    /// <summary><c>unknown_tenant</c>: no tenant is served at the host name, SNI name, PSK identity or path.</summary>
    UnknownTenant,

    /// <summary><c>suspended</c>: the tenant is suspended.</summary>
    Suspended,

    /// <summary><c>draining</c>: the gateway is draining and admits no new connections.</summary>
    Draining,

    /// <summary><c>blocked</c>: the client matches the tenant's blocked clients.</summary>
    Blocked,

    /// <summary><c>not_allowed</c>: the client is not in the tenant's allowed clients.</summary>
    NotAllowed,

    /// <summary><c>rate_limited</c>: the tenant's new-connection rate is exceeded.</summary>
    RateLimited,

    /// <summary><c>per_client_limit</c>: the tenant's connections per client address are reached.</summary>
    PerClientLimit,

    /// <summary><c>max_connections</c>: the tenant's MaxConnections is reached across the cluster.</summary>
    MaxConnections,

    /// <summary><c>origin_not_allowed</c>: the WebSocket Origin is not in the tenant's allowed origins.</summary>
    OriginNotAllowed,

    /// <summary><c>backend_unreachable</c>: the tenant's forward backend cannot be reached.</summary>
    BackendUnreachable,

    /// <summary><c>bad_request</c>: the request is not a valid WebSocket upgrade (or asks for another WebSocket version).</summary>
    BadRequest,

    /// <summary><c>tls_failed</c>: the TLS or DTLS handshake was refused or failed (no SNI, no usable certificate, client certificate, timeout).</summary>
    TlsFailed,

    /// <summary><c>backend_forbidden</c>: the forward target is refused by the operator's egress policy; the client is answered as for an unreachable backend.</summary>
    BackendForbidden,

    /// <summary><c>protocol_not_allowed</c>: the tenant does not accept clients over this listener kind (its <c>listeners</c>).</summary>
    ProtocolNotAllowed,

    /// <summary><c>half_open_limit</c>: too many handshakes in progress (the gateway's or the tenant's half-open caps).</summary>
    HalfOpenLimit,

    /// <summary><c>reverse_dns_pending</c>: the client's host names, needed by a host-name entry of an access list, are not confirmed yet.</summary>
    ReverseDnsPending,

    /// <summary><c>delivery_unavailable</c>: the tenant's delivery mode is not available on this gateway.</summary>
    DeliveryUnavailable,

    /// <summary><c>webhook_rejected</c>: the tenant's webhook answered the connect event with a refusal.</summary>
    WebhookRejected,

    /// <summary>
    /// <c>webhook_unavailable</c>: the connect event had no usable answer (timeout, failure, forbidden address, invalid
    /// answer) and the tenant's <c>connectDefault</c> is <c>reject</c>.
    /// </summary>
    WebhookUnavailable,
}
