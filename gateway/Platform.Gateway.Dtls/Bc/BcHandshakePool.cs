using System.Collections.Concurrent;

namespace Platform.Gateway.Dtls.Bc;

/// <summary>
/// Where BouncyCastle handshakes run. BouncyCastle's DTLS handshake blocks its thread until it ends, so handshakes get a
/// few dedicated threads of their own (never the thread pool, which the rest of the gateway needs), behind two caps
/// taken before any work is queued: handshakes in progress or waiting for a thread on the listener, and per source
/// prefix. Each cap refuses silently, as the listener's other caps do.
/// </summary>
internal sealed class BcHandshakePool : IDisposable
{
    private readonly BlockingCollection<Action> _queue = [];
    private readonly Thread[] _threads;
    private readonly Lock _lock = new();
    private readonly Dictionary<DtlsSourcePrefix, int> _bySource = [];
    private readonly int _maxConcurrent;
    private readonly int _maxPerSource;
    private int _active;

    public BcHandshakePool(int threads, int maxConcurrent, int maxPerSource)
    {
        _maxConcurrent = maxConcurrent;
        _maxPerSource = maxPerSource;
        _threads = new Thread[threads];
        for (var i = 0; i < threads; i++)
        {
            _threads[i] = new Thread(Run) { IsBackground = true, Name = $"dtls-bc-handshake-{i}" };
            _threads[i].Start();
        }
    }

    /// <summary>BouncyCastle handshakes in progress or waiting for a thread.</summary>
    public int Active => Volatile.Read(ref _active);

    /// <summary>Takes a place for a handshake from <paramref name="source"/>; false when a cap is reached.</summary>
    public bool TryReserve(DtlsSourcePrefix source)
    {
        lock (_lock)
        {
            var fromSource = _bySource.GetValueOrDefault(source);
            if (_active >= _maxConcurrent || fromSource >= _maxPerSource)
            {
                return false;
            }

            _bySource[source] = fromSource + 1;
            _active++;
            return true;
        }
    }

    /// <summary>Gives back a place taken by <see cref="TryReserve"/>.</summary>
    public void Release(DtlsSourcePrefix source)
    {
        lock (_lock)
        {
            var fromSource = _bySource.GetValueOrDefault(source) - 1;
            if (fromSource <= 0)
            {
                _bySource.Remove(source);
            }
            else
            {
                _bySource[source] = fromSource;
            }

            _active--;
        }
    }

    /// <summary>Runs a reserved handshake on one of the pool's threads.</summary>
    public void Run(Action handshake)
    {
        ObjectDisposedException.ThrowIf(!_queue.TryAdd(handshake), this);
    }

    private void Run()
    {
        foreach (var handshake in _queue.GetConsumingEnumerable())
        {
            // The handshake reports its own faults; nothing escapes to end the thread.
            handshake();
        }
    }

    public void Dispose()
    {
        _queue.CompleteAdding();
        var ended = true;
        foreach (var thread in _threads)
        {
            ended &= thread.Join(TimeSpan.FromSeconds(15));
        }

        // A thread still in a handshake after the wait goes back to the queue when it ends: disposed, the queue would
        // throw there, on a thread of its own, and an exception nothing catches ends the process. It is left to the GC.
        if (ended)
        {
            _queue.Dispose();
        }
    }
}
