using Platform.Contracts.Problems;

namespace Platform.Gateway.Delivery;

/// <summary>
/// The delivery refused the connection before it was accepted: the tenant's webhook said no to the connect event
/// (<see cref="RefusalReason.WebhookRejected"/>, with the status and reason it chose), or it gave no usable answer and the
/// tenant's default is to refuse (<see cref="RefusalReason.WebhookUnavailable"/>). A WebSocket client reads the status and
/// reason in the answer to its upgrade; TLS, TCP and DTLS clients see their connection closed.
/// </summary>
internal sealed class ConnectionRejectedException(RefusalReason refusal, int status, string? reason)
    : Exception($"Connection refused ({RefusalReasons.Name(refusal)}, {status}): {reason}")
{
    public RefusalReason Refusal { get; } = refusal;

    /// <summary>HTTP status for a WebSocket client, 400..499 (the webhook's choice) or 503.</summary>
    public int Status { get; } = status;

    /// <summary>The webhook's reason, shown to a WebSocket client, or null.</summary>
    public string? Reason { get; } = reason;
}
