namespace Platform.Gateway.Dtls;

/// <summary>
/// One timer for every session of a server: a priority queue ordered by due time and a single
/// <see cref="ITimer"/> armed for the earliest entry. Sessions re-arm themselves after each firing.
/// </summary>
internal sealed class DtlsTimerQueue : IDisposable
{
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly PriorityQueue<DtlsSession, long> _queue = new();
    private readonly ITimer _timer;
    private long _armedFor = long.MaxValue;
    private bool _disposed;

    public DtlsTimerQueue(TimeProvider time)
    {
        _time = time;
        _timer = time.CreateTimer(static state => ((DtlsTimerQueue)state!).Fire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public long Now => _time.GetTimestamp();

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _queue.Count;
            }
        }
    }

    public long After(TimeSpan delay) => Now + (long)(delay.TotalSeconds * _time.TimestampFrequency);

    public void Schedule(DtlsSession session, long due)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _queue.Enqueue(session, due);
            if (due < _armedFor)
            {
                Arm(due);
            }
        }
    }

    private void Arm(long due)
    {
        _armedFor = due;
        var delay = TimeSpan.FromSeconds(Math.Max(0, due - Now) / (double)_time.TimestampFrequency);
        _timer.Change(delay, Timeout.InfiniteTimeSpan);
    }

    private void Fire()
    {
        List<(DtlsSession Session, long Due)> due = [];
        lock (_lock)
        {
            var now = Now;
            while (_queue.TryPeek(out var session, out var at) && at <= now)
            {
                _queue.Dequeue();
                due.Add((session, at));
            }

            _armedFor = long.MaxValue;
            if (!_disposed && _queue.TryPeek(out _, out var next))
            {
                Arm(next);
            }
        }

        foreach (var (session, at) in due)
        {
            session.OnTimer(at);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _queue.Clear();
        }

        _timer.Dispose();
    }
}
