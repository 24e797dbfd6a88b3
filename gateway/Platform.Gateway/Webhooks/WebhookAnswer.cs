namespace Platform.Gateway.Webhooks;

/// <summary>
/// What one webhook request came to: an HTTP answer (<see cref="Failure"/> null; any status, the body read up to
/// <see cref="WebhookHttp.MaxAnswerBytes"/>) or a failure named by one of <see cref="WebhookFailures"/>.
/// </summary>
internal sealed record WebhookAnswer(int Status, byte[] Body, string? Failure)
{
    /// <summary>A 2xx answer.</summary>
    public bool Succeeded => Failure is null && Status is >= 200 and < 300;

    public static WebhookAnswer Failed(string failure) => new(0, [], failure);
}

/// <summary>The <c>outcome</c> words of a webhook request that got no usable HTTP answer (metrics and logs).</summary>
internal static class WebhookFailures
{
    /// <summary>No answer within the tenant's <c>timeoutSeconds</c>.</summary>
    public const string Timeout = "timeout";
    /// <summary>The URL's host resolved only to addresses the egress policy forbids.</summary>
    public const string Forbidden = "forbidden";
    /// <summary>The host did not resolve, or no connection could be made.</summary>
    public const string Unreachable = "unreachable";
    /// <summary>The answer was a redirect; redirects are never followed.</summary>
    public const string Redirect = "redirect";
    /// <summary>The answer's body was larger than <see cref="WebhookHttp.MaxAnswerBytes"/>.</summary>
    public const string TooLarge = "too_large";
    /// <summary>The URL did not pass the validation handshake (OPTIONS with <c>WebHook-Request-Origin</c>).</summary>
    public const string NotValidated = "not_validated";
    /// <summary>The validation handshake's OPTIONS request got no answer within the tenant's <c>timeoutSeconds</c>.</summary>
    public const string NotValidatedTimeout = "not_validated_timeout";
    /// <summary>The validation handshake's OPTIONS request could not be made (no resolution, no connection).</summary>
    public const string NotValidatedUnreachable = "not_validated_unreachable";
    /// <summary>The answer was not what the event's documentation asks for (not JSON, wrong fields, out-of-range values).</summary>
    public const string InvalidAnswer = "invalid_answer";
    /// <summary>The tenant has no webhook secret: requests are never sent unsigned.</summary>
    public const string NoSecret = "no_secret";
}
