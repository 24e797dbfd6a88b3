using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using Org.BouncyCastle.Tls;

namespace Platform.Gateway.Dtls.Bc;

/// <summary>
/// A BouncyCastle session's side of the listener's socket: datagrams the receive loop routed to the session (by
/// address, or by connection ID from any address) wait here, each with its source; records BouncyCastle writes go out
/// through the listener's socket to the session's last confirmed address. During the handshake BouncyCastle's thread
/// waits here for the next flight, until the handshake deadline; once established, reads never wait more than the
/// millisecond BouncyCastle asks for, so no thread is held while the session is idle.
/// </summary>
internal sealed class BcDatagramTransport : DatagramTransport
{
    /// <summary>Epoch-0 handshake records a handshake may feed BouncyCastle (fragments included).</summary>
    public const int MaxHandshakeRecords = 256;

    private readonly DtlsSession _session;
    private readonly DtlsServer _server;
    private readonly long _deadline;
    private readonly object _lock = new();

    // Allocated when a datagram arrives and dropped once an established session has read them all, so an idle
    // session holds no queue.
    private Queue<(byte[] Buffer, int Length, SocketAddress Source)>? _waiting;
    private int _bytes;
    private bool _handshaking = true;
    private bool _closed;
    private int _handshakeRecords;

    public BcDatagramTransport(DtlsSession session, DtlsServer server, TimeSpan handshakeTimeout)
    {
        _session = session;
        _server = server;
        _deadline = Environment.TickCount64 + (long)handshakeTimeout.TotalMilliseconds;
    }

    /// <summary>Source of the datagram BouncyCastle is reading now.</summary>
    public SocketAddress? CurrentSource { get; private set; }

    /// <summary>BouncyCastle closed the transport (close_notify received or sent, or a fatal alert).</summary>
    public bool ClosedByEngine { get; private set; }

    /// <summary>Whatever BouncyCastle writes is dropped (a deferred admission must stay silent).</summary>
    public bool Silent { get; set; }

    /// <summary>Whether the handshake deadline has passed.</summary>
    public bool DeadlinePassed => Environment.TickCount64 >= _deadline;

    /// <summary>Handshake datagrams dropped by the fragment checks.</summary>
    public int RejectedHandshakeDatagrams { get; private set; }

    /// <summary>
    /// Whether BouncyCastle may still hold records of a datagram this transport handed it: it takes a datagram's first
    /// record and keeps the rest in a record queue of its own (RFC 6347 allows several records per datagram), which it
    /// reads before it asks the transport again. True while <see cref="HeldLength"/> is above zero: set when a datagram
    /// longer than its first record is handed over, cleared when BouncyCastle asks for the next datagram (its queue is
    /// empty then).
    /// </summary>
    public bool EngineMayHoldRecords => HeldLength > 0;

    /// <summary>
    /// Bytes of the datagram last handed over that follow its first record (BouncyCastle holds them while
    /// <see cref="EngineMayHoldRecords"/>), so the next read can be sized to them.
    /// </summary>
    public int HeldLength { get; private set; }

    /// <summary>
    /// Longest datagram an established session's current read may take. BouncyCastle decrypts whatever the transport
    /// hands it into the caller's buffer and fails the session with internal_error when the plaintext is longer, and
    /// within one read it asks again after a record it consumed itself (a heartbeat): a longer datagram waits for the
    /// next read, sized to it.
    /// </summary>
    public int ReadLimit { get; set; } = int.MaxValue;

    /// <summary>Length of the connection ID the gateway issued (the client's records carry it), 0 without one.</summary>
    public int ConnectionIdLength { get; set; }

    public bool HasPending
    {
        get
        {
            lock (_lock)
            {
                return _waiting is { Count: > 0 };
            }
        }
    }

    /// <summary>The length an established session reads with when nothing waits (a heartbeat step, the handshake release read).</summary>
    public const int IdleReadLength = 64;

    /// <summary>Length of the datagram that waits first, or 0.</summary>
    public int PendingLength
    {
        get
        {
            lock (_lock)
            {
                return _waiting is { Count: > 0 } waiting ? waiting.Peek().Length : 0;
            }
        }
    }

    /// <summary>Queues a copy of <paramref name="datagram"/>; false when the queue is full and it was dropped.</summary>
    public bool Post(ReadOnlySpan<byte> datagram, SocketAddress source)
    {
        lock (_lock)
        {
            if (_closed)
            {
                return true;
            }

            var options = _server.Options;
            _waiting ??= new Queue<(byte[] Buffer, int Length, SocketAddress Source)>();
            if (_waiting.Count >= options.SessionQueueCapacity || _bytes + datagram.Length > options.SessionQueueBytes)
            {
                return false;
            }

            var copy = ArrayPool<byte>.Shared.Rent(Math.Max(1, datagram.Length));
            datagram.CopyTo(copy);
            _waiting.Enqueue((copy, datagram.Length, source));
            _bytes += datagram.Length;
            Monitor.PulseAll(_lock);
        }

        return true;
    }

    /// <summary>The handshake ended: reads stop waiting for more than BouncyCastle's millisecond.</summary>
    public void Established()
    {
        lock (_lock)
        {
            _handshaking = false;
            if (_waiting is { Count: 0 })
            {
                // The handshake's queue: nothing waits, so it goes until the next datagram.
                _waiting = null;
            }
        }
    }

    /// <summary>The session ended: waiting datagrams are discarded, a waiting handshake wakes and fails.</summary>
    public void Shut()
    {
        lock (_lock)
        {
            _closed = true;
            while (_waiting is not null && _waiting.TryDequeue(out var item))
            {
                ArrayPool<byte>.Shared.Return(item.Buffer);
            }

            _waiting = null;

            _bytes = 0;
            Monitor.PulseAll(_lock);
        }
    }

    public int GetReceiveLimit() => _server.Options.MaxPacketSize;

    public int GetSendLimit() => _server.Options.Mtu;

    public int Receive(byte[] buf, int off, int len, int waitMillis) => Receive(buf.AsSpan(off, len), waitMillis);

    public int Receive(Span<byte> buffer, int waitMillis)
    {
        var started = Environment.TickCount64;
        HeldLength = 0;
        lock (_lock)
        {
            while (true)
            {
                if (_closed)
                {
                    throw new IOException("DTLS session ended");
                }

                if (!_handshaking && _waiting is not null && _waiting.TryPeek(out var next)
                    && next.Length > ReadLimit)
                {
                    // An established session's read is sized to the datagram that waits first (BouncyCastle allocates a
                    // record buffer of the read's size each time); a longer datagram that came meanwhile, or that
                    // follows one BouncyCastle consumed itself, waits for the next read, sized to it, rather than be
                    // cut or decrypted into too small a buffer.
                    return -1;
                }

                while (_waiting is not null && _waiting.TryDequeue(out var item))
                {
                    _bytes -= item.Length;
                    try
                    {
                        var datagram = item.Buffer.AsSpan(0, item.Length);
                        if (_handshaking && !AcceptHandshakeDatagram(datagram))
                        {
                            RejectedHandshakeDatagrams++;
                            Interlocked.Increment(ref _server.BcCounters._handshakeDatagramsRejected);
                            continue;
                        }

                        var length = Math.Min(item.Length, buffer.Length);
                        datagram[..length].CopyTo(buffer);
                        CurrentSource = item.Source;
                        HeldLength = _handshaking ? 0 : length - Math.Min(length, FirstRecordLength(datagram[..length]));
                        if (!_handshaking && _waiting.Count == 0)
                        {
                            // The last one waiting: the queue goes until the next datagram.
                            _waiting = null;
                        }

                        return length;
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(item.Buffer);
                    }
                }

                if (!_handshaking)
                {
                    // Everything waiting was read: the queue goes until the next datagram.
                    _waiting = null;
                }

                var now = Environment.TickCount64;
                if (_handshaking && now >= _deadline)
                {
                    throw new BcHandshakeDeadlineException();
                }

                // BouncyCastle's 0 means "forever"; a handshake never waits past its deadline, and an established
                // session is only read when a datagram or a timer is there, so it never waits long.
                var remaining = waitMillis <= 0 ? long.MaxValue : waitMillis - (now - started);
                if (_handshaking)
                {
                    remaining = Math.Min(remaining, _deadline - now);
                }
                else
                {
                    remaining = Math.Min(remaining, 1);
                }

                if (remaining <= 0)
                {
                    return -1;
                }

                Monitor.Wait(_lock, (int)Math.Min(remaining, 1000));
                if (!_handshaking && _waiting is not { Count: > 0 })
                {
                    return -1;
                }
            }
        }
    }

    /// <summary>
    /// Bounds what a handshake feeds BouncyCastle's reassembler (bc-csharp 2.7.0 lacks its range-tracking bound): every
    /// cleartext handshake fragment must lie within a message of at most <see cref="BcTlsServer.MaxHandshakeMessageSize"/>
    /// bytes, and a handshake gets at most <see cref="MaxHandshakeRecords"/> such records. Encrypted records pass.
    /// </summary>
    private bool AcceptHandshakeDatagram(ReadOnlySpan<byte> datagram)
    {
        while (datagram.Length >= DtlsRecords.RecordHeaderLength)
        {
            if (datagram[0] == 25)
            {
                // A tls12_cid record (the client's encrypted Finished once a CID is agreed): its length sits after the CID.
                return true;
            }

            var length = BinaryPrimitives.ReadUInt16BigEndian(datagram[11..]);
            if (length > datagram.Length - DtlsRecords.RecordHeaderLength)
            {
                return false;
            }

            if (datagram[0] == 22 && BinaryPrimitives.ReadUInt16BigEndian(datagram[3..]) == 0)
            {
                if (++_handshakeRecords > MaxHandshakeRecords)
                {
                    return false;
                }

                var body = datagram.Slice(DtlsRecords.RecordHeaderLength, length);
                while (body.Length >= DtlsRecords.HandshakeHeaderLength)
                {
                    var messageLength = ReadUInt24(body[1..]);
                    var fragmentOffset = ReadUInt24(body[6..]);
                    var fragmentLength = ReadUInt24(body[9..]);
                    if (messageLength > BcTlsServer.MaxHandshakeMessageSize || fragmentOffset + fragmentLength > messageLength
                        || fragmentLength > body.Length - DtlsRecords.HandshakeHeaderLength)
                    {
                        return false;
                    }

                    body = body[(DtlsRecords.HandshakeHeaderLength + fragmentLength)..];
                }
            }

            datagram = datagram[(DtlsRecords.RecordHeaderLength + length)..];
        }

        return true;
    }

    /// <summary>Bytes of the datagram's first record (header included); a <c>tls12_cid</c> record's length follows its CID.</summary>
    private int FirstRecordLength(ReadOnlySpan<byte> datagram)
    {
        if (datagram.Length < DtlsRecords.RecordHeaderLength)
        {
            return datagram.Length;
        }

        var header = DtlsRecords.RecordHeaderLength + (datagram[0] == 25 ? ConnectionIdLength : 0);
        return datagram.Length < header ? datagram.Length : header + BinaryPrimitives.ReadUInt16BigEndian(datagram[(header - 2)..]);
    }

    private static int ReadUInt24(ReadOnlySpan<byte> span) => (span[0] << 16) | (span[1] << 8) | span[2];

    public void Send(byte[] buf, int off, int len) => Send(buf.AsSpan(off, len));

    public void Send(ReadOnlySpan<byte> buffer)
    {
        if (!Silent)
        {
            _server.SendDatagram(buffer, _session.Address);
        }
    }

    public void Close() => ClosedByEngine = true;
}

/// <summary>A BouncyCastle handshake ran past its deadline.</summary>
internal sealed class BcHandshakeDeadlineException() : IOException("DTLS handshake timed out");
