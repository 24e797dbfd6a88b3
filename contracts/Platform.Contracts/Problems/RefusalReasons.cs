namespace Platform.Contracts.Problems;

/// <summary>
/// The names and meanings of <see cref="RefusalReason"/>: what the gateways count and report, what the silo accepts and
/// lists, what the portal explains, and (for ws and wss) the <c>code</c> a refused client reads. Names are snake_case
/// and never change once published; a name a refused client can read is also an <see cref="ErrorCodes"/> value.
/// </summary>
public static class RefusalReasons
{
    private static readonly string[] Names = [.. Enum.GetValues<RefusalReason>().Select(NameOf)];

    /// <summary>Every reason (not <see cref="RefusalReason.None"/>), in declaration order.</summary>
    public static IReadOnlyList<RefusalReason> All { get; } = [.. Enum.GetValues<RefusalReason>().Where(r => r != RefusalReason.None)];

    /// <summary>The reason's published name, for example <c>not_allowed</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="RefusalReason.None"/> or an undefined value.</exception>
    public static string Name(RefusalReason reason) =>
        reason > RefusalReason.None && (int)reason < Names.Length ? Names[(int)reason] : throw new ArgumentOutOfRangeException(nameof(reason), reason, "Not a refusal reason.");

    /// <summary>The reason a published name stands for; false for anything else.</summary>
    public static bool TryParse(string? name, out RefusalReason reason)
    {
        var index = name is null ? -1 : Array.IndexOf(Names, name);
        reason = index > 0 ? (RefusalReason)index : RefusalReason.None;
        return index > 0;
    }

    /// <summary>What the reason means, in a few words for people (the portal shows it beside the name).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="RefusalReason.None"/> or an undefined value.</exception>
    public static string Meaning(RefusalReason reason) => reason switch
    {
        RefusalReason.UnknownTenant => "no tenant at that host, SNI name, PSK identity or path",
        RefusalReason.Suspended => "tenant suspended",
        RefusalReason.Draining => "gateway draining",
        RefusalReason.Blocked => "client in BlockedClients",
        RefusalReason.NotAllowed => "client not in AllowedClients",
        RefusalReason.RateLimited => "connection rate limit",
        RefusalReason.PerClientLimit => "too many connections from one client",
        RefusalReason.MaxConnections => "MaxConnections reached",
        RefusalReason.OriginNotAllowed => "WebSocket Origin not allowed",
        RefusalReason.BackendUnreachable => "forward backend unreachable",
        RefusalReason.BadRequest => "not a WebSocket upgrade",
        RefusalReason.TlsFailed => "TLS handshake refused or failed",
        RefusalReason.BackendForbidden => "forward target refused by the egress policy",
        RefusalReason.ProtocolNotAllowed => "listener kind the tenant does not accept",
        RefusalReason.HalfOpenLimit => "too many unfinished handshakes",
        RefusalReason.ReverseDnsPending => "client's host names not confirmed yet",
        RefusalReason.DeliveryUnavailable => "delivery mode not available on the gateway",
        RefusalReason.WebhookRejected => "refused by the tenant's webhook",
        RefusalReason.WebhookUnavailable => "webhook gave no usable answer to the connect event",
        _ => throw new ArgumentOutOfRangeException(nameof(reason), reason, "Not a refusal reason."),
    };

    private static string NameOf(RefusalReason reason) => reason switch
    {
        RefusalReason.None => "",
        RefusalReason.UnknownTenant => ErrorCodes.UnknownTenant,
        RefusalReason.Suspended => ErrorCodes.Suspended,
        RefusalReason.Draining => ErrorCodes.Draining,
        RefusalReason.Blocked => ErrorCodes.Blocked,
        RefusalReason.NotAllowed => ErrorCodes.NotAllowed,
        RefusalReason.RateLimited => ErrorCodes.RateLimited,
        RefusalReason.PerClientLimit => ErrorCodes.PerClientLimit,
        RefusalReason.MaxConnections => ErrorCodes.MaxConnections,
        RefusalReason.OriginNotAllowed => ErrorCodes.OriginNotAllowed,
        RefusalReason.BackendUnreachable => ErrorCodes.BackendUnreachable,
        RefusalReason.BadRequest => ErrorCodes.BadRequest,
        RefusalReason.ProtocolNotAllowed => ErrorCodes.ProtocolNotAllowed,
        RefusalReason.ReverseDnsPending => ErrorCodes.ReverseDnsPending,
        RefusalReason.DeliveryUnavailable => ErrorCodes.DeliveryUnavailable,
        RefusalReason.WebhookRejected => ErrorCodes.WebhookRejected,
        RefusalReason.WebhookUnavailable => ErrorCodes.WebhookUnavailable,

        // Never a client's answer: a handshake refusal is an alert, and a forbidden backend is answered as an unreachable one.
        RefusalReason.TlsFailed => "tls_failed",
        RefusalReason.BackendForbidden => "backend_forbidden",
        RefusalReason.HalfOpenLimit => "half_open_limit",
        _ => throw new ArgumentOutOfRangeException(nameof(reason), reason, "A refusal reason without a name."),
    };
}
