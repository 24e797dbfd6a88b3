namespace Platform.Gateway.Dtls;

/// <summary>
/// One timer for every session of a server: a binary heap ordered by due time and a single <see cref="ITimer"/> armed
/// for the earliest entry. A session has at most one entry (its place in the heap is kept on the session, so a new due
/// time moves the entry and a closed session's entry goes at once): the queue never holds more entries than sessions,
/// nor a closed session until its old due time. Sessions re-arm themselves after each firing.
/// </summary>
internal sealed class DtlsTimerQueue : IDisposable
{
    private const int MinCapacity = 16;

    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly ITimer _timer;
    private Entry[] _heap = [];
    private int _count;
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
                return _count;
            }
        }
    }

    /// <summary>How often the timer has fired so far.</summary>
    public long Firings => Interlocked.Read(ref _firings);

    public long After(TimeSpan delay) => Now + (long)(delay.TotalSeconds * _time.TimestampFrequency);

    /// <summary>Sets <paramref name="session"/>'s one entry to <paramref name="due"/> (adding it, or moving the one it has).</summary>
    public void Schedule(DtlsSession session, long due)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            var slot = session.TimerSlot;
            if (slot < 0)
            {
                if (_count == _heap.Length)
                {
                    Array.Resize(ref _heap, Math.Max(MinCapacity, _heap.Length * 2));
                }

                slot = _count++;
                _heap[slot] = new Entry(session, due);
                session.TimerSlot = slot;
                SiftUp(slot);
            }
            else
            {
                var earlier = due < _heap[slot].Due;
                _heap[slot].Due = due;
                if (earlier)
                {
                    SiftUp(slot);
                }
                else
                {
                    SiftDown(slot);
                }
            }

            if (due < _armedFor)
            {
                Arm(due);
            }
        }
    }

    /// <summary>Removes <paramref name="session"/>'s entry, if it has one (the session has closed).</summary>
    public void Cancel(DtlsSession session)
    {
        lock (_lock)
        {
            if (session.TimerSlot >= 0 && !_disposed)
            {
                RemoveAt(session.TimerSlot);

                // Nothing left to wait for: the timer is stopped rather than left to wake for the entry just taken out.
                // (With other entries left it stays armed; a firing that finds nothing due only arms it again.)
                if (_count == 0 && _armedFor != long.MaxValue)
                {
                    _armedFor = long.MaxValue;
                    _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                }
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
        List<Entry>? due = null;
        lock (_lock)
        {
            var now = Now;
            while (_count > 0 && _heap[0].Due <= now)
            {
                (due ??= []).Add(_heap[0]);
                RemoveAt(0);
            }

            _armedFor = long.MaxValue;
            if (!_disposed && _count > 0)
            {
                Arm(_heap[0].Due);
            }
        }

        if (due is null)
        {
            return;
        }

        foreach (var entry in due)
        {
            entry.Session.OnTimer(entry.Due);
        }
    }

    private void RemoveAt(int slot)
    {
        _heap[slot].Session.TimerSlot = -1;
        var last = --_count;
        if (slot != last)
        {
            var moved = _heap[last].Session;
            Place(slot, _heap[last]);
            _heap[last] = default;
            SiftUp(slot);
            SiftDown(moved.TimerSlot);
        }
        else
        {
            _heap[last] = default;
        }

        // The heap shrinks with the sessions, so a burst of sessions leaves no large array behind.
        if (_heap.Length > MinCapacity && _count < _heap.Length / 4)
        {
            Array.Resize(ref _heap, Math.Max(MinCapacity, _heap.Length / 2));
        }
    }

    private void SiftUp(int slot)
    {
        var entry = _heap[slot];
        while (slot > 0)
        {
            var parent = (slot - 1) / 2;
            if (_heap[parent].Due <= entry.Due)
            {
                break;
            }

            Place(slot, _heap[parent]);
            slot = parent;
        }

        Place(slot, entry);
    }

    private void SiftDown(int slot)
    {
        var entry = _heap[slot];
        while (true)
        {
            var child = (2 * slot) + 1;
            if (child >= _count)
            {
                break;
            }

            if (child + 1 < _count && _heap[child + 1].Due < _heap[child].Due)
            {
                child++;
            }

            if (entry.Due <= _heap[child].Due)
            {
                break;
            }

            Place(slot, _heap[child]);
            slot = child;
        }

        Place(slot, entry);
    }

    private void Place(int slot, Entry entry)
    {
        _heap[slot] = entry;
        entry.Session.TimerSlot = slot;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            for (var i = 0; i < _count; i++)
            {
                _heap[i].Session.TimerSlot = -1;
            }

            _heap = [];
            _count = 0;
        }

        _timer.Dispose();
    }

    private struct Entry(DtlsSession session, long due)
    {
        public readonly DtlsSession Session = session;
        public long Due = due;
    }
}
