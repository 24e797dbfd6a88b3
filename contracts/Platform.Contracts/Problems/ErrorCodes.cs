namespace Platform.Contracts.Problems;

/// <summary>
/// Stable machine-readable error codes carried in the <c>code</c> member of every RFC 9457
/// problem response. Codes never change meaning once published; new ones are only added.
/// </summary>
public static class ErrorCodes
{
    /// <summary>The request body is not valid JSON or does not match the expected shape.</summary>
    public const string MalformedBody = "malformed_body";
    /// <summary>One or more fields failed validation; <c>errors</c> lists each field.</summary>
    public const string ValidationFailed = "validation_failed";
    /// <summary>The request body exceeds the endpoint's size limit.</summary>
    public const string BodyTooLarge = "body_too_large";
    /// <summary>No credentials, or credentials that do not match any key.</summary>
    public const string Unauthenticated = "unauthenticated";
    /// <summary>The credentials are valid but lack the scope the endpoint needs.</summary>
    public const string Forbidden = "forbidden";
    /// <summary>The resource does not exist or is not visible to the caller.</summary>
    public const string NotFound = "not_found";
    /// <summary>A tenant with the same slug already exists.</summary>
    public const string SlugTaken = "slug_taken";
    /// <summary>A host name is already claimed by another tenant.</summary>
    public const string HostNameTaken = "host_name_taken";
    /// <summary>A PSK identity with the same name already exists for the tenant.</summary>
    public const string PskIdentityTaken = "psk_identity_taken";
    /// <summary>The tenant already trusts this raw public key (same SHA-256 fingerprint).</summary>
    public const string RawPublicKeyTaken = "raw_public_key_taken";
    /// <summary>The raw public key is neither a PEM <c>PUBLIC KEY</c> nor base64 DER SubjectPublicKeyInfo, or its key does not decode.</summary>
    public const string RawPublicKeyInvalid = "raw_public_key_invalid";
    /// <summary>The raw public key's type or size is not accepted (EC P-256 or P-384, Ed25519, RSA 2048..8192 only).</summary>
    public const string RawPublicKeyNotAllowed = "raw_public_key_not_allowed";
    /// <summary>A private key was sent where a public key belongs; it was neither stored nor echoed.</summary>
    public const string PrivateKeyRefused = "private_key_refused";
    /// <summary>The If-Match precondition names a revision that is no longer current.</summary>
    public const string StaleRevision = "stale_revision";
    /// <summary>
    /// The tenant's configuration was stored by a newer release of the platform, with settings this node does not know
    /// (during a rolling upgrade, or after a rollback); answered by a node of that release, or once it is replaced.
    /// </summary>
    public const string ConfigFromNewerRelease = "config_from_newer_release";
    /// <summary>A write that replaces state was sent without If-Match.</summary>
    public const string PreconditionRequired = "precondition_required";
    /// <summary>The uploaded certificate cannot be parsed.</summary>
    public const string CertificateInvalid = "certificate_invalid";
    /// <summary>The uploaded certificate has no private key.</summary>
    public const string CertificateNoPrivateKey = "certificate_no_private_key";
    /// <summary>The uploaded certificate is expired or not yet valid.</summary>
    public const string CertificateExpired = "certificate_expired";
    /// <summary>The uploaded certificate's key usage does not allow TLS server authentication.</summary>
    public const string CertificateUsage = "certificate_usage";
    /// <summary>The uploaded certificate has no DNS subject alternative name.</summary>
    public const string CertificateNoHostNames = "certificate_no_host_names";
    /// <summary>The tenant is suspended; the action is not possible until it is resumed.</summary>
    public const string TenantSuspended = "tenant_suspended";
    /// <summary>No gateway is attached, so the connection command cannot be delivered.</summary>
    public const string NoGateway = "no_gateway";
    /// <summary>The gateway that owns the connection did not answer.</summary>
    public const string GatewayUnavailable = "gateway_unavailable";
    /// <summary>The part of the cluster that holds the tenant's state is being recovered (a silo was lost); retry shortly.</summary>
    public const string ClusterUnavailable = "cluster_unavailable";
    /// <summary>The connection is not (or no longer) open.</summary>
    public const string ConnectionNotFound = "connection_not_found";
    /// <summary>No dedicated port is free in the configured range.</summary>
    public const string PortsExhausted = "ports_exhausted";
    /// <summary>The gateway node is unknown or was reaped; it must register again.</summary>
    public const string GatewayUnknown = "gateway_unknown";
    /// <summary>An operator account with the same user name already exists.</summary>
    public const string OperatorNameTaken = "operator_name_taken";
    /// <summary>The operator user name or password is wrong (deliberately not saying which).</summary>
    public const string InvalidCredentials = "invalid_credentials";
    /// <summary>The operator account is locked after repeated failed sign-ins; retry after the lock-out ends.</summary>
    public const string OperatorLockedOut = "operator_locked_out";
    /// <summary>The gateway is draining and admits no new connections.</summary>
    public const string GatewayDraining = "gateway_draining";
    /// <summary>The client address is blocked or not in the tenant's allowed list.</summary>
    public const string ClientBlocked = "client_blocked";
    /// <summary>The WebSocket Origin is not in the tenant's allowed origins.</summary>
    public const string OriginNotAllowed = "origin_not_allowed";
    /// <summary>The tenant's new-connection rate or per-client connection cap is exceeded.</summary>
    public const string RateLimited = "rate_limited";
    /// <summary>The tenant's MaxConnections is reached across the cluster.</summary>
    public const string ConnectionLimit = "connection_limit";
    /// <summary>The tenant's forward backend cannot be reached.</summary>
    public const string BackendUnreachable = "backend_unreachable";
    /// <summary>The request is not a valid WebSocket upgrade.</summary>
    public const string WebSocketRequired = "websocket_required";
    /// <summary>The tenant's delivery mode is not available on this gateway.</summary>
    public const string DeliveryUnavailable = "delivery_unavailable";
    /// <summary>The tenant's webhook refused the connection in its answer to the connect event.</summary>
    public const string WebhookRejected = "webhook_rejected";
    /// <summary>The tenant's webhook gave no usable answer to the connect event, and its default is to refuse.</summary>
    public const string WebhookUnavailable = "webhook_unavailable";

    // A refused ws or wss client reads the name of its refusal reason (RefusalReasons), the word the tenant's refusal
    // counts use, as its code; the reasons not listed above follow. client_blocked, connection_limit, gateway_draining
    // and websocket_required, which those refusals answered before, are no longer sent.

    /// <summary>No tenant is served at the host name, SNI name or path the client used (ws/wss 404).</summary>
    public const string UnknownTenant = "unknown_tenant";
    /// <summary>The tenant is suspended (ws/wss 403).</summary>
    public const string Suspended = "suspended";
    /// <summary>The gateway is draining and admits no new connections; connect to another one (ws/wss 503).</summary>
    public const string Draining = "draining";
    /// <summary>The client address matches the tenant's blocked clients (ws/wss 403).</summary>
    public const string Blocked = "blocked";
    /// <summary>The client address is not in the tenant's allowed clients (ws/wss 403).</summary>
    public const string NotAllowed = "not_allowed";
    /// <summary>The client's host names, which a host-name entry of the tenant's access lists needs, are not confirmed yet; retry shortly (ws/wss 503 with Retry-After).</summary>
    public const string ReverseDnsPending = "reverse_dns_pending";
    /// <summary>The tenant's connections per client address are reached (ws/wss 429).</summary>
    public const string PerClientLimit = "per_client_limit";
    /// <summary>The tenant's MaxConnections is reached across the cluster (ws/wss 503).</summary>
    public const string MaxConnections = "max_connections";
    /// <summary>
    /// The request could not be read: on the REST API a malformed request line, header or path, or a route or query value of
    /// the wrong form; on a gateway, not a valid WebSocket upgrade, or a WebSocket version other than 13 (ws/wss 400 or 426).
    /// </summary>
    public const string BadRequest = "bad_request";

    /// <summary>Creating the resource would exceed the tenant's plan; the problem names the resource and its ceiling.</summary>
    public const string QuotaExceeded = "quota_exceeded";
    /// <summary>The tenant does not accept clients over this protocol (its <c>listeners</c> setting).</summary>
    public const string ProtocolNotAllowed = "protocol_not_allowed";
    /// <summary>The host name's ownership could not be proven (the DNS challenge record is missing or wrong).</summary>
    public const string HostNameUnverified = "host_name_unverified";
    /// <summary>The uploaded certificate's key type or size is not allowed (RSA 2048..4096, EC P-256 or P-384 only).</summary>
    public const string CertificateKeyNotAllowed = "certificate_key_not_allowed";
    /// <summary>The resource exists but does not support the HTTP method; the <c>Allow</c> header lists those it does.</summary>
    public const string MethodNotAllowed = "method_not_allowed";
    /// <summary>The request body's <c>Content-Type</c> is not one the endpoint reads (JSON bodies need <c>application/json</c>).</summary>
    public const string UnsupportedMediaType = "unsupported_media_type";
    /// <summary>The request's headers or body did not arrive in time.</summary>
    public const string RequestTimeout = "request_timeout";
    /// <summary>A request with a body was sent without <c>Content-Length</c> or chunked transfer encoding.</summary>
    public const string LengthRequired = "length_required";
    /// <summary>The request line (method, path and query) is longer than the server reads.</summary>
    public const string UriTooLong = "uri_too_long";
    /// <summary>The request headers are larger, or more numerous, than the server reads.</summary>
    public const string HeadersTooLarge = "headers_too_large";
    /// <summary>The request names an HTTP version the server does not speak.</summary>
    public const string HttpVersionNotSupported = "http_version_not_supported";
    /// <summary>An unexpected server fault; the response carries a trace id, never details.</summary>
    public const string Internal = "internal_error";
}
