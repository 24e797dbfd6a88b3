namespace Platform.Silo.Events;

/// <summary>Lifecycle event delivery and retention, bound from <c>Platform:Events</c>.</summary>
internal sealed class EventOptions
{
    public const string Section = "Events";

    /// <summary>Whether this silo runs the webhook sender and the pruning job (the events are recorded either way).</summary>
    public bool SenderEnabled { get; set; } = true;

    /// <summary>How often the sender looks for tenants with due events.</summary>
    public int PollIntervalMilliseconds { get; set; } = 1000;

    /// <summary>Tenants whose streams one silo sends at once; each stream is one request at a time.</summary>
    public int MaxConcurrentTenants { get; set; } = 16;

    /// <summary>How long a claimed stream stays with this silo without renewal; renewed before every request.</summary>
    public int LeaseSeconds { get; set; } = 60;

    /// <summary>Delay after the first failed attempt; it doubles with every further one, up to <see cref="RetryMaxSeconds"/>.</summary>
    public int RetryBaseMilliseconds { get; set; } = 1000;

    /// <summary>Longest delay between two attempts.</summary>
    public int RetryMaxSeconds { get; set; } = 300;

    /// <summary>Attempts before an event is marked <c>failed</c> and the stream moves on to the next one.</summary>
    public int MaxAttempts { get; set; } = 10;

    /// <summary>How soon a tenant without a webhook URL or secret is looked at again.</summary>
    public int RecheckSeconds { get; set; } = 30;

    /// <summary>Hours after a secret change during which requests are also signed with the previous secret.</summary>
    public int PreviousSecretHours { get; set; } = 24;

    /// <summary>Days events are kept.</summary>
    public int RetentionDays { get; set; } = 7;

    /// <summary>Newest events kept per tenant; older ones are pruned.</summary>
    public int MaxEventsPerTenant { get; set; } = 100_000;

    /// <summary>How often old events are pruned.</summary>
    public int PruneIntervalSeconds { get; set; } = 60;

    /// <summary>The value of <c>WebHook-Request-Origin</c> in the validation handshake; the platform domain when empty.</summary>
    public string RequestOrigin { get; set; } = "";

    /// <summary>Largest response body read from a webhook; a longer one fails the attempt.</summary>
    public const int MaxResponseBytes = 64 * 1024;

    public void Validate()
    {
        static void Check(bool ok, string message)
        {
            if (!ok)
            {
                throw new InvalidOperationException($"Platform:Events:{message}");
            }
        }

        Check(PollIntervalMilliseconds is >= 10 and <= 60_000, "PollIntervalMilliseconds must be 10..60000.");
        Check(MaxConcurrentTenants is >= 1 and <= 1024, "MaxConcurrentTenants must be 1..1024.");
        Check(LeaseSeconds is >= 35 and <= 3600, "LeaseSeconds must be 35..3600 (longer than the longest webhook timeout, 30 s).");
        Check(RetryBaseMilliseconds is >= 1 and <= 3_600_000, "RetryBaseMilliseconds must be 1..3600000.");
        Check(RetryMaxSeconds >= 1 && RetryMaxSeconds * 1000L >= RetryBaseMilliseconds, "RetryMaxSeconds must be at least 1 and not below RetryBaseMilliseconds.");
        Check(MaxAttempts is >= 1 and <= 100, "MaxAttempts must be 1..100.");
        Check(RecheckSeconds is >= 1 and <= 3600, "RecheckSeconds must be 1..3600.");
        Check(PreviousSecretHours is >= 0 and <= 720, "PreviousSecretHours must be 0..720.");
        Check(RetentionDays is >= 1 and <= 90, "RetentionDays must be 1..90.");
        Check(MaxEventsPerTenant is >= 1 and <= 10_000_000, "MaxEventsPerTenant must be 1..10000000.");
        Check(PruneIntervalSeconds is >= 1 and <= 86_400, "PruneIntervalSeconds must be 1..86400.");
    }

    /// <summary>
    /// The delay before attempt <paramref name="failedAttempts"/> + 1: base × 2^(failed − 1), capped at the maximum,
    /// then drawn uniformly from its upper half (jitter, so streams that failed together do not retry together).
    /// </summary>
    public TimeSpan Backoff(int failedAttempts, double random)
    {
        var exponent = Math.Clamp(failedAttempts - 1, 0, 30);
        var capped = Math.Min(RetryBaseMilliseconds * Math.Pow(2, exponent), RetryMaxSeconds * 1000.0);
        return TimeSpan.FromMilliseconds(capped * (0.5 + (0.5 * Math.Clamp(random, 0, 1))));
    }
}
