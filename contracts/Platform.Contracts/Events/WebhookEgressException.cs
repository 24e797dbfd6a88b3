namespace Platform.Contracts.Events;

/// <summary>
/// A webhook's host resolved to an address the operator's egress policy refuses; nothing was connected. The connect
/// function given to <see cref="WebhookHttpClient"/> throws it, and the client reports
/// <see cref="WebhookExchangeFailure.EgressRefused"/>.
/// </summary>
public sealed class WebhookEgressException : IOException
{
    /// <summary>A refusal described by <paramref name="message"/>.</summary>
    public WebhookEgressException(string message)
        : base(message)
    {
    }

    /// <summary>A refusal described by <paramref name="message"/>, first reported as <paramref name="inner"/>.</summary>
    public WebhookEgressException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
