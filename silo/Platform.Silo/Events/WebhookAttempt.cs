namespace Platform.Silo.Events;

/// <summary>The outcome of one webhook request: success, or the stable reason code it failed with (docs/webhooks.md).</summary>
internal sealed record WebhookAttempt(bool Success, int? Status, string? Error)
{
    public static WebhookAttempt Ok(int status) => new(true, status, null);

    public static WebhookAttempt Failed(string error, int? status = null) => new(false, status, error);
}

/// <summary>Values of <see cref="WebhookAttempt.Error"/> and of an event's <c>lastError</c>.</summary>
internal static class WebhookErrors
{
    public const string NoWebhook = "no_webhook";
    public const string NoSecret = "no_secret";
    public const string InvalidUrl = "invalid_url";
    public const string EgressRefused = "egress_refused";
    public const string ConnectFailed = "connect_failed";
    public const string Timeout = "timeout";
    public const string BadResponse = "bad_response";
    public const string Redirect = "redirect";
    public const string HttpStatus = "http_status";
    public const string ResponseTooLarge = "response_too_large";
    public const string ValidationFailed = "validation_failed";
}
