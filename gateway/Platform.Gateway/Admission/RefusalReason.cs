namespace Platform.Gateway.Admission;

/// <summary>Why a connection was not admitted; the tag value of the refusal counter.</summary>
internal enum RefusalReason
{
    None = 0,
    UnknownTenant,
    Suspended,
    Draining,
    Blocked,
    NotAllowed,
    RateLimited,
    PerClientLimit,
    MaxConnections,
    OriginNotAllowed,
    BackendUnreachable,
    BadRequest,
    TlsFailed,
    BackendForbidden,
    ProtocolNotAllowed,
    HalfOpenLimit,
    ReverseDnsPending,
}
