using System.Security.Cryptography;
using System.Text;

namespace Platform.Contracts.Webhooks;

/// <summary>The event types of the gateway's webhook requests (the <c>Platform-Event-Type</c> header).</summary>
public static class WebhookEventTypes
{
    /// <summary>The blocking connect event.</summary>
    public const string Connect = "connect";

    /// <summary>A batch of client messages.</summary>
    public const string Messages = "messages";

    /// <summary>Every event type.</summary>
    public static readonly IReadOnlyList<string> All = [Connect, Messages];
}

/// <summary>The outcome of a webhook request that was taken.</summary>
public static class WebhookOutcomes
{
    /// <summary>A usable answer: 2xx for messages; for connect, an answer that accepted or refused as documented.</summary>
    public const string Delivered = "delivered";
}

/// <summary>Why a webhook request of the gateway failed (docs/webhook-delivery.md, "Failures the tenant sees").</summary>
public static class WebhookFailureKinds
{
    /// <summary>No answer within the tenant's <c>timeoutSeconds</c>.</summary>
    public const string Timeout = "timeout";

    /// <summary>An HTTP status that is not an answer: 4xx or 5xx on a message batch, a status a connect answer may not carry.</summary>
    public const string HttpStatus = "http_status";

    /// <summary>The answer was a redirect; redirects are never followed.</summary>
    public const string Redirect = "redirect";

    /// <summary>The answer's body was over 64 KiB.</summary>
    public const string BodyTooLarge = "body_too_large";

    /// <summary>The answer was not what the event asks for (not JSON, wrong fields, out-of-range values).</summary>
    public const string Garbage = "garbage";

    /// <summary>The URL's host resolved only to addresses the egress policy forbids; nothing was sent.</summary>
    public const string EgressRefused = "egress_refused";

    /// <summary>A connect answer named a forward target the egress policy forbids; the connection was refused.</summary>
    public const string ForbiddenOverride = "forbidden_override";

    /// <summary>The URL did not pass the validation handshake (OPTIONS with <c>WebHook-Request-Origin</c>); nothing was sent.</summary>
    public const string NotValidated = "not_validated";

    /// <summary>The host did not resolve, or no connection could be made.</summary>
    public const string ConnectionFailed = "connection_failed";

    /// <summary>Every failure kind.</summary>
    public static readonly IReadOnlyList<string> All =
        [Timeout, HttpStatus, Redirect, BodyTooLarge, Garbage, EgressRefused, ForbiddenOverride, NotValidated, ConnectionFailed];

    /// <summary>
    /// The causes a <see cref="NotValidated"/> failure can name when the handshake's <c>OPTIONS</c> request got no answer:
    /// <see cref="Timeout"/> (none within <c>timeoutSeconds</c>) or <see cref="ConnectionFailed"/> (no connection).
    /// </summary>
    public static readonly IReadOnlyList<string> ValidationCauses = [Timeout, ConnectionFailed];

    /// <summary>
    /// What a kind means, for people (no detail from the request or answer is ever shown); a <see cref="NotValidated"/>
    /// failure with a <paramref name="cause"/> says why the handshake got no answer.
    /// </summary>
    public static string Describe(string kind, int? status, string? cause = null) => (kind, cause) switch
    {
        (NotValidated, Timeout) =>
            "The URL did not pass the validation handshake: its OPTIONS request (with WebHook-Request-Origin) got no answer within the webhook's timeoutSeconds; nothing was sent.",
        (NotValidated, ConnectionFailed) =>
            "The URL did not pass the validation handshake: its OPTIONS request (with WebHook-Request-Origin) could not be made (the host did not resolve, or no connection could be made); nothing was sent.",
        _ => DescribeKind(kind, status),
    };

    private static string DescribeKind(string kind, int? status) => kind switch
    {
        Timeout => "No answer within the webhook's timeoutSeconds.",
        HttpStatus => $"The webhook answered HTTP {status}, which is not a usable answer.",
        Redirect => $"The webhook answered a redirect (HTTP {status}); redirects are not followed.",
        BodyTooLarge => "The answer's body was larger than 64 KiB.",
        Garbage => "The answer was not what the event asks for (not JSON, or a field out of its rules).",
        EgressRefused => "The URL's host resolves only to addresses the platform's egress policy forbids; nothing was sent.",
        ForbiddenOverride => "The connect answer named a forward target the platform's egress policy forbids.",
        NotValidated => "The URL did not pass the validation handshake (OPTIONS with WebHook-Request-Origin); nothing was sent.",
        ConnectionFailed => "The URL's host did not resolve, or no connection could be made.",
        _ => kind,
    };
}

/// <summary>Values of <see cref="WebhookValidation.State"/>.</summary>
public static class WebhookValidationStates
{
    /// <summary>The tenant has no webhook URL.</summary>
    public const string NoWebhook = "no_webhook";

    /// <summary>No gateway has tried the current URL yet.</summary>
    public const string Unknown = "unknown";

    /// <summary>The current URL passed the handshake.</summary>
    public const string Validated = "validated";

    /// <summary>The current URL failed the handshake the last time a gateway asked.</summary>
    public const string Failed = "failed";

    /// <summary>The lower-case hex SHA-256 of a webhook URL, as gateways report it.</summary>
    public static string HashUrl(string url) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(url ?? "")));
}

/// <summary>Answer of <c>GET /v1/tenants/{slug}/webhook-status</c>: how the gateways' webhook requests went.</summary>
/// <param name="Tenant">The tenant's slug.</param>
/// <param name="From">Start of the first hour counted (inclusive).</param>
/// <param name="To">End of the range (exclusive).</param>
/// <param name="At">When the figures were read.</param>
/// <param name="Validation">Whether the current URL passed the validation handshake.</param>
/// <param name="Delivered">Requests that got a usable answer in the range.</param>
/// <param name="Failed">Requests that failed in the range.</param>
/// <param name="Events">Per event type, requests delivered and failed.</param>
/// <param name="Failures">Per failure kind and event type, the failed requests (kinds with none are left out).</param>
/// <param name="LastFailure">The newest failure ever reported, in the range or not.</param>
public sealed record WebhookStatusResponse(
    string Tenant,
    DateTimeOffset From,
    DateTimeOffset To,
    DateTimeOffset At,
    WebhookValidation Validation,
    long Delivered,
    long Failed,
    IReadOnlyList<WebhookEventCounts> Events,
    IReadOnlyList<WebhookFailureCount> Failures,
    WebhookLastFailure? LastFailure);

/// <summary>Validation state of the tenant's webhook URL.</summary>
/// <param name="State">See <see cref="WebhookValidationStates"/>.</param>
/// <param name="At">When a gateway last learnt it (for <c>validated</c> and <c>failed</c>).</param>
public sealed record WebhookValidation(string State, DateTimeOffset? At);

/// <summary>Requests of one event type.</summary>
/// <param name="Event"><c>connect</c> or <c>messages</c>.</param>
/// <param name="Delivered">Requests that got a usable answer.</param>
/// <param name="Failed">Requests that failed.</param>
public sealed record WebhookEventCounts(string Event, long Delivered, long Failed);

/// <summary>Failed requests of one kind and event type.</summary>
/// <param name="Kind">See <see cref="WebhookFailureKinds"/>.</param>
/// <param name="Event"><c>connect</c> or <c>messages</c>.</param>
/// <param name="Count">Requests.</param>
public sealed record WebhookFailureCount(string Kind, string Event, long Count);

/// <summary>The newest failure.</summary>
/// <param name="At">When it happened.</param>
/// <param name="Event"><c>connect</c> or <c>messages</c>.</param>
/// <param name="Kind">See <see cref="WebhookFailureKinds"/>.</param>
/// <param name="Status">The HTTP status of the answer, when there was one.</param>
/// <param name="Detail">What the kind means, and for <c>not_validated</c> why (fixed text; nothing of the request or answer).</param>
/// <param name="Cause">
/// For <c>not_validated</c>: <c>timeout</c> or <c>connection_failed</c> when the handshake's OPTIONS request got no
/// answer; null when it was answered without the allowed origin (and for every other kind).
/// </param>
public sealed record WebhookLastFailure(DateTimeOffset At, string Event, string Kind, int? Status, string Detail, string? Cause = null);
