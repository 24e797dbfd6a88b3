namespace Platform.Gateway.Dtls;

/// <summary>
/// One timer for every session of a server: a priority queue ordered by due time and a single
/// <see cref="ITimer"/> armed for the earliest entry. Sessions re-arm themselves after each firing. An entry is not
/// taken out when its session ends (the queue cannot remove from the middle); instead, before the timer is armed,
/// entries of ended sessions at the head are dropped, so the timer is armed only for a live session. Otherwise every
/// short session (a handshake, a few datagrams, close) would cost a firing of its own a second after it ended (its
/// retransmission timer): a wakeup of the timer thread, a pool work item and the session's lock, per session.
/// </summary>
internal sealed class DtlsTimerQueue : IDisposable
{
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly PriorityQueue<DtlsSession, long> _queue = new();
    private readonly ITimer _timer;
    private long _armedFor = long.MaxValue;
    private long _firings;
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

    /// <summary>How often the timer has fired so far.</summary>
    public long Firings => Interlocked.Read(ref _firings);

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
        Interlocked.Increment(ref _firings);
        List<(DtlsSession Session, long Due)> due = [];
        lock (_lock)
        {
            var now = Now;
            while (_queue.TryPeek(out var session, out var at) && at <= now)
            {
                _queue.Dequeue();
                if (!session.IsClosed)
                {
                    due.Add((session, at));
                }
            }

            // An ended session's entry has nothing to do: dropped now rather than woken for.
            while (_queue.TryPeek(out var session, out _) && session.IsClosed)
            {
                _queue.Dequeue();
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
