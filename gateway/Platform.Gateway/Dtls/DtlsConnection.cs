using System.Threading.Tasks.Sources;
using Platform.Contracts.Problems;
using Platform.Gateway.Admission;
using Platform.Gateway.Connections;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Dtls;

/// <summary>
/// An established DTLS session as a gateway connection: sends are DTLS records (one datagram each), close and refusal
/// are close_notify. Client datagrams, each in the pooled buffer it was decrypted into, wait in a bounded queue for
/// the delivery; the listener's worker never waits on it, so when the delivery falls <see cref="QueueCapacity"/>
/// datagrams behind, further ones are dropped and counted (UDP semantics), instead of stalling the listener. A queued
/// datagram's buffer is returned by the reader once the delivery has taken it, or by whoever drops or discards it.
/// The queue is the connection's own (one writer, one reader): it is allocated with the first datagram, and its one
/// waiting reader is this object itself as a value-task source, so an idle connection holds no channel, no waiter object
/// and no queue.
/// </summary>
internal sealed class DtlsConnection : GatewayConnection, IPumpedClient, IValueTaskSource<bool>
{
    public const int QueueCapacity = 256;

    private readonly DtlsSession _session;
    private readonly CancellationTokenSource _ended = new();
    private readonly Lock _gate = new();
    private Queue<DtlsDatagram>? _inbound;
    private ManualResetValueTaskSourceCore<bool> _readable = new() { RunContinuationsAsynchronously = true };
    private bool _readerWaiting;
    private bool _inboundCompleted;

    private long _dropped;

    public DtlsConnection(string id, TenantRuntime tenant, DtlsSession session, int localPort, AdmissionTicket ticket, TimeProvider time)
        : base(id, tenant, Contracts.Connections.ConnectionProtocols.Dtls, session.RemoteEndPoint, localPort, time)
    {
        _session = session;
        Ticket = ticket;
    }

    public DtlsSession Session => _session;

    /// <summary>The MaxConnections slot, released when the connection has finished.</summary>
    public AdmissionTicket Ticket { get; }

    /// <summary>Fires when the session has ended, whichever side ended it.</summary>
    public CancellationToken Ending => _ended.Token;

    /// <summary>Client datagrams dropped because the delivery was too far behind.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Queues one client datagram, taking its buffer; called on the listener's worker for this session.</summary>
    public void OnDatagram(DtlsDatagram datagram)
    {
        CountIn(datagram.Length, 1);
        if (!TryQueue(datagram))
        {
            datagram.Return();
            if (!_ended.IsCancellationRequested)
            {
                Interlocked.Increment(ref _dropped);
            }
        }
    }

    public override ValueTask SendAsync(ReadOnlyMemory<byte> payload, bool text, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        switch (_session.Send(payload.Span))
        {
            case DtlsSendResult.Sent:
                CountOut(payload.Length, 1);
                return ValueTask.CompletedTask;
            case DtlsSendResult.TooLarge:
                throw new DatagramTooLargeException(payload.Length, _session.MaxDatagramSize);
            default:
                return WaitForEndAsync(cancellationToken);
        }
    }

    /// <summary>
    /// The session has closed and its handler is about to report why: the send ends (cancelled) once it has, so that a
    /// send racing the session's end never records a cause of its own in place of the real one.
    /// </summary>
    private async ValueTask WaitForEndAsync(CancellationToken cancellationToken)
    {
        CancellationToken ending;
        try
        {
            ending = _ended.Token;
        }
        catch (ObjectDisposedException)
        {
            throw new IOException("The DTLS session is closed.");
        }

        // One completion source woken by either token: no linked source and no timer task per waiting send.
        var either = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (ending.UnsafeRegister(static state => ((TaskCompletionSource)state!).TrySetResult(), either))
        using (cancellationToken.UnsafeRegister(static state => ((TaskCompletionSource)state!).TrySetResult(), either))
        {
            await either.Task;
        }

        throw new OperationCanceledException(ending.IsCancellationRequested ? ending : cancellationToken);
    }

    public override void Close(int code, string? reason)
    {
        RecordClose(code, reason);

        // close_notify; the listener then reports the end through the session handler, which sets Ending.
        _session.Close();
    }

    public ValueTask RefuseAsync(RefusalReason reason, int? status, string? detail, CancellationToken cancellationToken)
    {
        // The handshake is over: close_notify is the one signal left; the close code is recorded already.
        _session.Close();
        return ValueTask.CompletedTask;
    }

    public ValueTask AcceptAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public async Task ReadAsync(BackendWriter backend, CancellationToken cancellationToken)
    {
        // One registration for the reader's life: a cancellation wakes the waiting reader, which then throws.
        using var wake = cancellationToken.UnsafeRegister(static (state, token) => ((DtlsConnection)state!).WakeReader(token), this);
        while (await WaitToReadAsync(cancellationToken))
        {
            while (TryTake(out var datagram))
            {
                try
                {
                    await backend.WriteAsync(datagram.Memory, text: false, cancellationToken);
                }
                finally
                {
                    datagram.Return();
                }
            }
        }
    }

    public bool TryClassifyReadFault(Exception fault, out int code, out string reason)
    {
        // The queue has no transport of its own to fail.
        (code, reason) = (0, "");
        return false;
    }

    /// <summary>Queues <paramref name="datagram"/> for the reader; false when the queue is full or complete (the caller keeps it).</summary>
    private bool TryQueue(DtlsDatagram datagram)
    {
        lock (_gate)
        {
            if (_inboundCompleted || _inbound?.Count >= QueueCapacity)
            {
                return false;
            }

            (_inbound ??= new Queue<DtlsDatagram>()).Enqueue(datagram);
            if (_readerWaiting)
            {
                _readerWaiting = false;
                _readable.SetResult(true);
            }

            return true;
        }
    }

    private bool TryTake(out DtlsDatagram datagram)
    {
        lock (_gate)
        {
            if (_inbound is not null)
            {
                return _inbound.TryDequeue(out datagram);
            }

            datagram = default;
            return false;
        }
    }

    /// <summary>
    /// True when a datagram waits (at once, or once one arrives), false once the queue is complete and empty; throws
    /// when <paramref name="cancellationToken"/> is cancelled. At most one call waits at a time (the single reader).
    /// </summary>
    private ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        lock (_gate)
        {
            if (_inbound is { Count: > 0 })
            {
                return new ValueTask<bool>(true);
            }

            if (_inboundCompleted)
            {
                return new ValueTask<bool>(false);
            }

            _readable.Reset();
            _readerWaiting = true;
            return new ValueTask<bool>(this, _readable.Version);
        }
    }

    private void WakeReader(CancellationToken cancelled)
    {
        lock (_gate)
        {
            if (_readerWaiting)
            {
                _readerWaiting = false;
                _readable.SetException(new OperationCanceledException(cancelled));
            }
        }
    }

    /// <summary>No datagram is queued any more; the reader takes what waits, then ends.</summary>
    private void CompleteInbound()
    {
        lock (_gate)
        {
            _inboundCompleted = true;
            if (_readerWaiting)
            {
                _readerWaiting = false;
                _readable.SetResult(false);
            }
        }
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _readable.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _readable.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _readable.OnCompleted(continuation, state, token, flags);

    /// <summary>The session ended (called once, from the session handler).</summary>
    public void OnEnded(int code, string reason)
    {
        RecordClose(code, reason);
        CompleteInbound();
        try
        {
            _ended.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The connection already finished.
        }
    }

    public void Dispose()
    {
        // Nothing reads any more: queued datagrams go back to the pool, and later ones are refused by the writer.
        CompleteInbound();
        while (TryTake(out var datagram))
        {
            datagram.Return();
        }

        _ended.Dispose();
    }
}

/// <summary>A message longer than one DTLS record within the listener's MTU.</summary>
internal sealed class DatagramTooLargeException(int length, int limit)
    : IOException($"A datagram of {length} bytes exceeds the session's limit of {limit} bytes.")
{
    public int Limit { get; } = limit;
}
