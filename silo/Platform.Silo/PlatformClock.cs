namespace Platform.Silo;

/// <summary>
/// The clock of the platform's own code: audit times, leases, heartbeats, retention, cool-downs. It is a
/// type of its own so that a test can drive it without also driving Orleans, which takes the plain
/// <see cref="TimeProvider"/> from the container for membership, failure detection and grain timers.
/// </summary>
internal sealed class PlatformClock(TimeProvider inner) : TimeProvider
{
    /// <summary>Key of an optional <see cref="TimeProvider"/> service the clock reads instead of the system's.</summary>
    public const string ServiceKey = "platform";

    public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

    public override long GetTimestamp() => inner.GetTimestamp();

    public override long TimestampFrequency => inner.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => inner.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        inner.CreateTimer(callback, state, dueTime, period);
}
