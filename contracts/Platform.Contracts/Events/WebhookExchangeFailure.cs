namespace Platform.Contracts.Events;

/// <summary>Why a <see cref="WebhookExchange"/> brought no usable answer; each caller maps it to its own outcome words.</summary>
public enum WebhookExchangeFailure
{
    /// <summary>An answer came and was read (any status for a POST; a passed handshake for a validation).</summary>
    None,

    /// <summary>The validation handshake was answered, but not with a 2xx naming the origin (or <c>*</c>).</summary>
    NotValidated,

    /// <summary>The answer was a redirect; redirects are never followed.</summary>
    Redirect,

    /// <summary>The answer's body was longer than the client's limit.</summary>
    TooLarge,

    /// <summary>No answer within the timeout.</summary>
    Timeout,

    /// <summary>The host resolved to an address the egress policy refuses (<see cref="WebhookEgressException"/>).</summary>
    EgressRefused,

    /// <summary>The host did not resolve, or no connection could be made.</summary>
    ConnectFailed,

    /// <summary>The receiver answered something that is not HTTP, or closed the connection mid-answer.</summary>
    BadResponse,
}
