namespace Platform.Contracts.Events;

/// <summary>
/// What one request of <see cref="WebhookHttpClient"/> came to: the answer's <see cref="Status"/> (0 when none came),
/// its <see cref="Body"/> (read up to the client's limit; empty unless <see cref="Failure"/> is
/// <see cref="WebhookExchangeFailure.None"/>), and <see cref="Failure"/>, with the transport fault in
/// <see cref="Exception"/> for logs.
/// </summary>
public sealed record WebhookExchange(int Status, ReadOnlyMemory<byte> Body, WebhookExchangeFailure Failure, Exception? Exception = null)
{
    /// <summary>An answer was read (<see cref="Failure"/> is <see cref="WebhookExchangeFailure.None"/>).</summary>
    public bool Answered => Failure == WebhookExchangeFailure.None;

    /// <summary>A failure before any answer.</summary>
    public static WebhookExchange Failed(WebhookExchangeFailure failure, Exception? exception = null) => new(0, ReadOnlyMemory<byte>.Empty, failure, exception);
}
