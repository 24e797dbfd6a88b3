using System.Collections.Concurrent;

namespace Platform.Gateway.Dtls;

/// <summary>
/// Where sessions' queued datagrams are processed: on the thread pool, off the receive loop. An established session's
/// run goes to the pool directly. Handshake runs (the ClientHello's signed first flight, key exchange, certificate
/// checks) wait in a lane of their own that at most <c>handshakeWorkers</c> pool work items drain at once, each
/// taking one run and then going back to the end of the pool's queue. So a handshake flood keeps at most that many
/// pool threads busy, and an established session's records, the receive loop and everything else on the pool
/// wait behind at most that many handshake steps, never behind the whole backlog; the backlog itself is bounded by
/// the unassigned cap, since a session in it has not been admitted yet.
/// </summary>
internal sealed class DtlsWorkQueue : IThreadPoolWorkItem
{
    private readonly ConcurrentQueue<DtlsSessionInbox> _handshakes = new();
    private readonly int _handshakeWorkers;
    private int _running;

    public DtlsWorkQueue(int handshakeWorkers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(handshakeWorkers, 1);
        _handshakeWorkers = handshakeWorkers;
    }

    /// <summary>Queues one run of <paramref name="inbox"/>; the caller guarantees it is not queued or running already.</summary>
    public void Schedule(DtlsSessionInbox inbox, bool handshake)
    {
        if (!handshake)
        {
            ThreadPool.UnsafeQueueUserWorkItem(inbox, preferLocal: false);
            return;
        }

        _handshakes.Enqueue(inbox);
        StartWorker();
    }

    private void StartWorker()
    {
        while (true)
        {
            var running = Volatile.Read(ref _running);
            if (running >= _handshakeWorkers)
            {
                return;
            }

            if (Interlocked.CompareExchange(ref _running, running + 1, running) == running)
            {
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
                return;
            }
        }
    }

    /// <summary>One handshake step; the same object stands for every handshake worker, which hold no state of their own.</summary>
    void IThreadPoolWorkItem.Execute()
    {
        if (_handshakes.TryDequeue(out var inbox))
        {
            inbox.Run();
        }

        if (!_handshakes.IsEmpty)
        {
            // Still counted as running: back of the pool's queue, so other work interleaves with the backlog.
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            return;
        }

        Interlocked.Decrement(ref _running);

        // A run queued between the emptiness check and the decrement found every worker still counted as running.
        if (!_handshakes.IsEmpty)
        {
            StartWorker();
        }
    }
}
