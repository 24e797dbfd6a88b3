namespace Platform.Gateway.Admission;

/// <summary>A per-second token bucket on a <see cref="TimeProvider"/> timestamp; capacity equals the rate (a one-second burst).</summary>
internal sealed class TokenBucket(TimeProvider time, int perSecond)
{
    private readonly Lock _lock = new();
    private double _tokens = perSecond;
    private long _last = time.GetTimestamp();

    public int PerSecond { get; } = perSecond;

    public bool TryTake()
    {
        lock (_lock)
        {
            var now = time.GetTimestamp();
            var elapsed = (double)(now - _last) / time.TimestampFrequency;
            _last = now;
            _tokens = Math.Min(PerSecond, _tokens + (elapsed * PerSecond));
            if (_tokens < 1)
            {
                return false;
            }

            _tokens -= 1;
            return true;
        }
    }
}
