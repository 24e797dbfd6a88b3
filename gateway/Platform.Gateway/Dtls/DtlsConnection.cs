using Platform.Contracts.Problems;
using Platform.Gateway.Admission;
using Platform.Gateway.Connections;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Dtls;

/// <summary>
/// An established DTLS session as a gateway connection: sends are DTLS records (one datagram each), close and refusal
/// are close_notify. Client datagrams, each in the pooled buffer it was decrypted into, wait in a bounded
/// <see cref="DatagramQueue"/> for the delivery; the listener's worker never waits on it, so when the delivery falls
/// <see cref="QueueCapacity"/> datagrams behind, further ones are dropped and counted (UDP semantics), instead of
/// stalling the listener. A queued datagram's buffer is returned by the reader once the delivery has taken it, or by
/// whoever drops or discards it.
/// </summary>
internal sealed class DtlsConnection : GatewayConnection, IPumpedClient
{
    public const int QueueCapacity = 256;

    private readonly DtlsSession _session;
    private readonly CancellationTokenSource _ended = new();
    private readonly DatagramQueue _inbound = new(QueueCapacity);

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
        if (!_inbound.TryWrite(datagram))
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
        using var wake = _inbound.WakeOnCancel(cancellationToken);
        while (await _inbound.WaitToReadAsync(cancellationToken))
        {
            while (_inbound.TryTake(out var datagram))
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

    /// <summary>The session ended (called once, from the session handler).</summary>
    public void OnEnded(int code, string reason)
    {
        RecordClose(code, reason);
        _inbound.Complete();
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
        _inbound.CompleteAndDiscard();
        _ended.Dispose();
    }
}

/// <summary>A message longer than one DTLS record within the listener's MTU.</summary>
internal sealed class DatagramTooLargeException(int length, int limit)
    : IOException($"A datagram of {length} bytes exceeds the session's limit of {limit} bytes.")
{
    public int Limit { get; } = limit;
}
