using System.Threading.Tasks.Sources;

namespace Platform.Gateway.Dtls;

/// <summary>
/// A DTLS connection's client datagrams on their way to the delivery: one writer (the listener's worker for the
/// session), which never waits, and one reader (the delivery's pump). Bounded: a datagram that finds it full or
/// complete is refused and stays the writer's. The queue itself is allocated with the first datagram, and the one
/// waiting reader is this object as a value-task source, so an idle connection holds no queue and no waiter object.
/// </summary>
/// <remarks>
/// Its end is not a fault: once <see cref="Complete"/> is called the reader takes what waits and is then told the
/// queue is over (false), even when its cancellation has fired meanwhile (the session's end cancels it too). Only a
/// reader that waits on a queue still open is ended by the cancellation, with <see cref="OperationCanceledException"/>.
/// </remarks>
internal sealed class DatagramQueue(int capacity) : IValueTaskSource<bool>
{
    private readonly Lock _gate = new();
    private Queue<DtlsDatagram>? _items;
    private ManualResetValueTaskSourceCore<bool> _readable = new() { RunContinuationsAsynchronously = true };
    private bool _readerWaiting;
    private bool _completed;

    /// <summary>Queues <paramref name="datagram"/> for the reader; false when the queue is full or complete (the caller keeps it).</summary>
    public bool TryWrite(DtlsDatagram datagram)
    {
        lock (_gate)
        {
            if (_completed || _items?.Count >= capacity)
            {
                return false;
            }

            (_items ??= new Queue<DtlsDatagram>()).Enqueue(datagram);
            if (_readerWaiting)
            {
                _readerWaiting = false;
                _readable.SetResult(true);
            }

            return true;
        }
    }

    public bool TryTake(out DtlsDatagram datagram)
    {
        lock (_gate)
        {
            if (_items is not null)
            {
                return _items.TryDequeue(out datagram);
            }

            datagram = default;
            return false;
        }
    }

    /// <summary>
    /// True when a datagram waits (at once, or once one arrives), false once the queue is complete and empty; throws
    /// when <paramref name="cancellationToken"/> is cancelled while the queue is still open. At most one call waits at a
    /// time (the single reader), and it is woken by a cancellation only under <see cref="WakeOnCancel"/>.
    /// </summary>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_items is { Count: > 0 })
            {
                return new ValueTask<bool>(true);
            }

            if (_completed)
            {
                return new ValueTask<bool>(false);
            }

            if (cancellationToken.IsCancellationRequested)
            {
                return ValueTask.FromCanceled<bool>(cancellationToken);
            }

            _readable.Reset();
            _readerWaiting = true;
            return new ValueTask<bool>(this, _readable.Version);
        }
    }

    /// <summary>One registration for the reader's life: a cancellation wakes the waiting reader, which then throws.</summary>
    public CancellationTokenRegistration WakeOnCancel(CancellationToken cancellationToken) =>
        cancellationToken.UnsafeRegister(static (state, token) => ((DatagramQueue)state!).Wake(token), this);

    private void Wake(CancellationToken cancelled)
    {
        lock (_gate)
        {
            // A queue completed meanwhile has woken its reader with its end already.
            if (_readerWaiting)
            {
                _readerWaiting = false;
                _readable.SetException(new OperationCanceledException(cancelled));
            }
        }
    }

    /// <summary>No datagram is queued any more; the reader takes what waits, then ends.</summary>
    public void Complete()
    {
        lock (_gate)
        {
            _completed = true;
            if (_readerWaiting)
            {
                _readerWaiting = false;
                _readable.SetResult(false);
            }
        }
    }

    /// <summary>Completes the queue and gives the buffers of the datagrams still in it back to the pool (nothing reads any more).</summary>
    public void CompleteAndDiscard()
    {
        Complete();
        while (TryTake(out var datagram))
        {
            datagram.Return();
        }
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _readable.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _readable.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _readable.OnCompleted(continuation, state, token, flags);
}
