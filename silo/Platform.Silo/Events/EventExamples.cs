using Platform.Contracts.Events;

namespace Platform.Silo.Events;

/// <summary>The events API's documented example.</summary>
internal static class EventExamples
{
    private static readonly DateTimeOffset At = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    public static readonly EventPage Page = new(
        [
            new EventResponse(
                new LifecycleEvent(Guid.Parse("0195f3a1-7c2e-7b10-9d4e-2f1a6b3c4d5e"), LifecycleEventTypes.Connected, 41, "acme", "gw-eu-1.1f4", "wss", "198.51.100.23", 50432, null, null, At),
                new EventDelivery(EventDeliveryStates.Delivered, 1, 204, null, At.AddSeconds(1), null, At.AddSeconds(1))),
            new EventResponse(
                new LifecycleEvent(Guid.Parse("0195f3a1-9a40-7c22-8e11-5b7c9d0e1f2a"), LifecycleEventTypes.Disconnected, 42, "acme", "gw-eu-1.1f4", "wss", "198.51.100.23", 50432, 1000, "bye", At.AddMinutes(5)),
                new EventDelivery(EventDeliveryStates.Pending, 2, 503, "http_status", At.AddMinutes(5).AddSeconds(3), At.AddMinutes(5).AddSeconds(7), null)),
        ],
        42,
        42);
}
