namespace Platform.Contracts.Events;

/// <summary>One event of <c>GET /v1/tenants/{slug}/events</c>: the event and how its delivery went.</summary>
/// <param name="Event">The event, exactly as it is (or was) POSTed to the webhook.</param>
/// <param name="Delivery">Its delivery to the tenant's webhook.</param>
public sealed record EventResponse(LifecycleEvent Event, EventDelivery Delivery);

/// <summary>The delivery state of one event.</summary>
/// <param name="State"><c>pending</c>, <c>delivered</c> or <c>failed</c> (gave up after the last attempt).</param>
/// <param name="Attempts">Requests made so far.</param>
/// <param name="LastStatus">HTTP status of the last answer, when there was one.</param>
/// <param name="LastError">Why the last attempt failed, a stable code (see docs/webhooks.md), or why nothing was sent (<c>no_webhook</c>, <c>no_secret</c>).</param>
/// <param name="LastAttemptAt">When the last attempt was made.</param>
/// <param name="NextAttemptAt">For <c>pending</c>: the earliest time of the next attempt.</param>
/// <param name="DeliveredAt">For <c>delivered</c>: when the receiver answered 2xx.</param>
public sealed record EventDelivery(
    string State,
    int Attempts,
    int? LastStatus,
    string? LastError,
    DateTimeOffset? LastAttemptAt,
    DateTimeOffset? NextAttemptAt,
    DateTimeOffset? DeliveredAt);

/// <summary>A page of events in sequence order.</summary>
/// <param name="Items">Events with a sequence above <c>after</c>, oldest first.</param>
/// <param name="LastSequence">The tenant's newest sequence number (0 before its first event).</param>
/// <param name="Next">The <c>after</c> value for the next page: the last item's sequence, or the request's <c>after</c> when empty.</param>
public sealed record EventPage(IReadOnlyList<EventResponse> Items, long LastSequence, long Next);

/// <summary>Values of <see cref="EventDelivery.State"/>.</summary>
public static class EventDeliveryStates
{
    /// <summary>Not delivered yet; retried.</summary>
    public const string Pending = "pending";
    /// <summary>The webhook answered 2xx.</summary>
    public const string Delivered = "delivered";
    /// <summary>Given up after the last attempt.</summary>
    public const string Failed = "failed";
}
