using System.Collections.Concurrent;

namespace Platform.Silo.HostNames;

/// <summary>
/// Bounds the DNS checks one tenant can make this silo send: <see cref="HostNameOptions.HostNameChecksPerMinute"/>
/// per fixed one-minute window. Windows of idle tenants are dropped as the map grows.
/// </summary>
internal sealed class CheckThrottle(HostNameOptions options, PlatformClock time)
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private const int PruneAbove = 10_000;

    private readonly ConcurrentDictionary<Guid, Counter> _counters = new();

    /// <summary>Takes one check for the tenant, or says how long until the next one is allowed.</summary>
    public bool TryAcquire(Guid tenantId, out TimeSpan retryAfter)
    {
        var now = time.GetUtcNow();
        if (_counters.Count > PruneAbove)
        {
            foreach (var (id, stale) in _counters)
            {
                if (now - stale.Start >= Window)
                {
                    _counters.TryRemove(id, out _);
                }
            }
        }

        var counter = _counters.GetOrAdd(tenantId, static (_, start) => new Counter(start), now);
        lock (counter)
        {
            if (now - counter.Start >= Window)
            {
                counter.Start = now;
                counter.Count = 0;
            }

            if (counter.Count < options.HostNameChecksPerMinute)
            {
                counter.Count++;
                retryAfter = TimeSpan.Zero;
                return true;
            }

            retryAfter = counter.Start + Window - now;
            return false;
        }
    }

    private sealed class Counter(DateTimeOffset start)
    {
        public DateTimeOffset Start { get; set; } = start;

        public int Count { get; set; }
    }
}
