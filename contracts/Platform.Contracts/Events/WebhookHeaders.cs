namespace Platform.Contracts.Events;

/// <summary>Header names of webhook requests and of the validation handshake.</summary>
public static class WebhookHeaders
{
    /// <summary>The request's signature (see <see cref="WebhookSignature"/>).</summary>
    public const string Signature = "Platform-Signature";

    /// <summary>The event's id (a UUID): the same on every retry of one event, for deduplication.</summary>
    public const string EventId = "Platform-Event-Id";

    /// <summary>The event's type, <c>connected</c> or <c>disconnected</c>.</summary>
    public const string EventType = "Platform-Event-Type";

    /// <summary>The event's per-tenant sequence number.</summary>
    public const string EventSequence = "Platform-Event-Sequence";

    /// <summary>The tenant's slug.</summary>
    public const string Tenant = "Platform-Tenant";

    /// <summary>Validation handshake: sent on the <c>OPTIONS</c> request, the platform's host name.</summary>
    public const string RequestOrigin = "WebHook-Request-Origin";

    /// <summary>Validation handshake: the receiver's answer, the request origin or <c>*</c>.</summary>
    public const string AllowedOrigin = "WebHook-Allowed-Origin";

    /// <summary>
    /// Whether an answer to the validation handshake allows <paramref name="requestOrigin"/>: a 2xx status whose
    /// <c>WebHook-Allowed-Origin</c> values (one header or several, comma-separated) include it (ignoring case) or <c>*</c>.
    /// </summary>
    public static bool AllowsOrigin(int status, IEnumerable<string>? allowedOriginValues, string requestOrigin)
    {
        if (status is < 200 or > 299 || allowedOriginValues is null)
        {
            return false;
        }

        foreach (var value in allowedOriginValues)
        {
            foreach (var item in (value ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (item == "*" || string.Equals(item, requestOrigin, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }
}
