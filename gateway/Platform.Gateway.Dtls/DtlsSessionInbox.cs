using System.Buffers;

namespace Platform.Gateway.Dtls;

/// <summary>
/// A session's datagrams on their way from the receive loop to a worker. The receive loop copies each one in and
/// never waits on the session; at most one run drains the inbox at a time, in arrival order, so one session's
/// datagrams are processed in order by one worker at a time. Beyond <c>capacity</c> waiting datagrams, or
/// <c>byteLimit</c> bytes of them, a new one is dropped, as a full socket buffer would drop it. The first run also
/// takes the session's first handshake step (the ClientHello that the cookie check let through). The inbox's lock
/// guards its queue only and is never held across an OpenSSL or handler call; those run under the session's own.
/// </summary>
internal sealed class DtlsSessionInbox : IThreadPoolWorkItem
{
    private readonly DtlsSession _session;
    private readonly DtlsWorkQueue _workers;
    private readonly int _capacity;
    private readonly int _byteLimit;
    private readonly Lock _lock = new();
    private readonly Queue<(byte[] Buffer, int Length)> _waiting = new();
    private int _bytes;
    private bool _scheduled;
    private bool _closed;
    private bool _started;

    public DtlsSessionInbox(DtlsSession session, DtlsWorkQueue workers, int capacity, int byteLimit)
    {
        _session = session;
        _workers = workers;
        _capacity = capacity;
        _byteLimit = byteLimit;
    }

    /// <summary>Queues the session's first handshake step.</summary>
    public void Start()
    {
        lock (_lock)
        {
            if (_scheduled || _closed)
            {
                return;
            }

            _scheduled = true;
        }

        _workers.Schedule(this, handshake: true);
    }

    /// <summary>
    /// Copies <paramref name="datagram"/> in and makes sure a run will see it. False when the inbox is full and the
    /// datagram was dropped; a datagram for a session that has ended is discarded without counting.
    /// </summary>
    public bool Post(ReadOnlySpan<byte> datagram)
    {
        lock (_lock)
        {
            if (_closed)
            {
                return true;
            }

            if (_waiting.Count >= _capacity || _bytes + datagram.Length > _byteLimit)
            {
                return false;
            }

            var copy = ArrayPool<byte>.Shared.Rent(Math.Max(1, datagram.Length));
            datagram.CopyTo(copy);
            _waiting.Enqueue((copy, datagram.Length));
            _bytes += datagram.Length;
            if (_scheduled)
            {
                return true;
            }

            _scheduled = true;
        }

        _workers.Schedule(this, handshake: !_session.IsEstablished);
        return true;
    }

    /// <summary>The session ended: later datagrams are discarded, and so are waiting ones unless a run will see them.</summary>
    public void Close()
    {
        lock (_lock)
        {
            _closed = true;
            if (!_scheduled)
            {
                DiscardLocked();
            }
        }
    }

    void IThreadPoolWorkItem.Execute() => Run();

    /// <summary>
    /// Processes what is waiting, at most <c>capacity</c> datagrams, then queues itself again if more came, so a
    /// busy session takes turns with the others. A fault costs the session, never the worker (short of running out of
    /// memory, nothing escapes).
    /// </summary>
    public void Run()
    {
        if (!_started)
        {
            _started = true;
            try
            {
                _session.Start();
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                _session.OnWorkerFault(ex);
            }
        }

        for (var taken = 0; taken < _capacity; taken++)
        {
            (byte[] Buffer, int Length) next;
            lock (_lock)
            {
                if (_closed)
                {
                    DiscardLocked();
                }

                if (!_waiting.TryDequeue(out next))
                {
                    _scheduled = false;
                    return;
                }

                _bytes -= next.Length;
            }

            try
            {
                _session.OnDatagram(next.Buffer, next.Length);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                _session.OnWorkerFault(ex);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(next.Buffer);
            }
        }

        _workers.Schedule(this, handshake: !_session.IsEstablished);
    }

    private void DiscardLocked()
    {
        while (_waiting.TryDequeue(out var item))
        {
            ArrayPool<byte>.Shared.Return(item.Buffer);
        }

        _bytes = 0;
    }
}
