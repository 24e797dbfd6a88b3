using System.Buffers;
using System.Buffers.Binary;
using Platform.Gateway.Dtls.Interop;

namespace Platform.Gateway.Dtls;

/// <summary>
/// Record protection handed over after OpenSSL's handshake, as kernel TLS offload does: for an AEAD suite the session
/// derives the key block itself, proves it on the two Finished records OpenSSL just wrote and read, frees the
/// <c>SSL</c> object and its datagram BIO, and protects epoch-1 records with <see cref="DtlsRecordProtection"/> from
/// then on. The server's final flight (ChangeCipherSpec and Finished) is kept as OpenSSL wrote it, to be sent again
/// when the client retransmits its own final flight, until the client's first authenticated application record or
/// <see cref="FinalFlightLifetime"/>. CBC suites stay on OpenSSL: the gateway has no CBC record code of its own.
/// </summary>
public sealed partial class DtlsSession
{
    private const byte ContentChangeCipherSpec = 20;
    private const byte ContentAlert = 21;
    private const byte ContentHandshake = 22;
    private const byte ContentApplicationData = 23;
    private const byte HandshakeClientHello = 1;
    private const byte HandshakeCertificate = 11;
    private const byte HandshakeCertificateVerify = 15;
    private const byte HandshakeClientKeyExchange = 16;
    private const byte HandshakeFinished = 20;
    private const byte AlertWarning = 1;
    private const byte AlertFatal = 2;
    private const byte AlertCloseNotify = 0;
    private const byte AlertNoRenegotiation = 100;
    private const int MaxFinalFlightResends = 8;

    /// <summary>How long the server's final flight is kept for a client that may not have received it.</summary>
    internal static readonly TimeSpan FinalFlightLifetime = TimeSpan.FromSeconds(120);

    /// <summary>At most one resend of the final flight per this interval (a client's flight may span datagrams).</summary>
    internal static readonly TimeSpan FinalFlightResendInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>A handed-over session releases its AEAD objects after this long without an application record.</summary>
    internal static readonly TimeSpan AeadContextIdle = TimeSpan.FromSeconds(1);

    private DtlsRecordProtection? _records;
    private List<byte[]>? _finalFlight;
    private long _finalFlightUntil;
    private long _lastFlightResend = long.MinValue;
    private int _flightResends;

    /// <summary>
    /// Whether the gateway protects this session's records itself since its handshake (OpenSSL sessions with an AEAD
    /// suite); the engine is still OpenSSL, which did the handshake.
    /// </summary>
    public bool RecordProtectionHandedOver => Volatile.Read(ref _handedOver);

    private bool _handedOver;

    /// <summary>Whether the session holds an OpenSSL <c>SSL</c> object now.</summary>
    internal bool HoldsOpenSslObject
    {
        get
        {
            lock (_lock)
            {
                return _ssl is not null;
            }
        }
    }

    /// <summary>Whether a handed-over session holds AEAD objects (native cipher contexts) now.</summary>
    internal bool HoldsAeadContexts
    {
        get
        {
            lock (_lock)
            {
                return _records?.HoldsContexts == true;
            }
        }
    }

    /// <summary>
    /// Right after the handshake completed on <paramref name="inbound"/> (the client's final flight, with its
    /// Finished): hands record protection over when the suite is covered and the derived keys open both Finished
    /// records. Otherwise the session stays on OpenSSL, counted.
    /// </summary>
    private unsafe void TryHandOverLocked(ReadOnlySpan<byte> inbound, ref Outcome outcome)
    {
        if (_ssl is null || _channel is null || _closed)
        {
            return;
        }

        if (!DtlsAeadSuite.TryFromOpenSslName(CipherSuite, out var suite) || !suite.IsSupported)
        {
            Interlocked.Increment(ref _server.Counters._handoverNotCovered);
            return;
        }

        var session = NativeMethods.SSL_get_session(_ssl);
        Span<byte> master = stackalloc byte[48];
        Span<byte> clientRandom = stackalloc byte[32];
        Span<byte> serverRandom = stackalloc byte[32];
        nuint masterLength;
        fixed (byte* m = master)
        fixed (byte* c = clientRandom)
        fixed (byte* s = serverRandom)
        {
            masterLength = session == nint.Zero ? 0 : NativeMethods.SSL_SESSION_get_master_key(session, m, 48);
            if (masterLength != 48 || NativeMethods.SSL_get_client_random(_ssl, c, 32) != 32 || NativeMethods.SSL_get_server_random(_ssl, s, 32) != 32)
            {
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(master);
                Interlocked.Increment(ref _server.Counters._handoverCheckFailed);
                return;
            }
        }

        var keys = DtlsKeyBlock.Derive(suite, master, clientRandom, serverRandom);
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(master);
        if (!CheckKeys(keys, _channel.Outbound, inbound, out var serverSequence, out var clientSequence))
        {
            keys.Dispose();
            Interlocked.Increment(ref _server.Counters._handoverCheckFailed);
            return;
        }

        var records = new DtlsRecordProtection(keys, serverSequence + 1);
        records.MarkReceived(clientSequence);
        var outbound = outcome.Outbound ??= [];
        var first = outbound.Count;
        _channel.TakeDatagrams(_server.Options.Mtu, outbound);
        _finalFlight = outbound.GetRange(first, outbound.Count - first);
        _finalFlightUntil = _server.Timers.After(FinalFlightLifetime);
        _records = records;
        // The SSL object goes first: the channel's handle must outlive every callback OpenSSL could make.
        _ssl.Dispose();
        _ssl = null;
        Interlocked.Decrement(ref _server.Counters._openSslObjectsHeld);
        _channel.Dispose();
        _channel = null;
        _buffersReleased = false;
        Volatile.Write(ref _handedOver, true);
        Interlocked.Increment(ref _server.Counters._recordProtectionHandedOver);
    }

    /// <summary>
    /// The self-check: every epoch-1 handshake record OpenSSL wrote in the last step (the server's Finished) must open
    /// with the derived server keys, and the client's epoch-1 Finished in the datagram that completed the handshake
    /// with the derived client keys, both decrypting to a Finished message. An AEAD tag that verifies under both
    /// proves keys and IVs; anything missing means no handover.
    /// </summary>
    private static bool CheckKeys(DtlsKeyBlock keys, IReadOnlyList<byte[]> written, ReadOnlySpan<byte> inbound, out ulong serverSequence, out ulong clientSequence)
    {
        serverSequence = 0;
        clientSequence = 0;
        Span<byte> plaintext = stackalloc byte[256];
        var serverFinished = false;
        foreach (var buffer in written)
        {
            ReadOnlySpan<byte> rest = buffer;
            while (NextRecord(ref rest, out var record))
            {
                if (BinaryPrimitives.ReadUInt16BigEndian(record[3..]) != DtlsRecordProtection.Epoch)
                {
                    continue;
                }

                if (record[0] != ContentHandshake || record.Length > DtlsRecords.RecordHeaderLength + plaintext.Length
                    || !DtlsRecordProtection.TryOpen(keys.Suite, keys.ServerWriteKey, keys.ServerWriteIv, record, plaintext, out var length)
                    || length < 1 || plaintext[0] != HandshakeFinished)
                {
                    return false;
                }

                serverSequence = Math.Max(serverSequence, SequenceOf(record));
                serverFinished = true;
            }
        }

        var clientFinished = false;
        var datagram = inbound;
        while (NextRecord(ref datagram, out var record))
        {
            if (BinaryPrimitives.ReadUInt16BigEndian(record[3..]) != DtlsRecordProtection.Epoch)
            {
                continue;
            }

            if (record[0] != ContentHandshake || record.Length > DtlsRecords.RecordHeaderLength + plaintext.Length
                || !DtlsRecordProtection.TryOpen(keys.Suite, keys.ClientWriteKey, keys.ClientWriteIv, record, plaintext, out var length)
                || length < 1 || plaintext[0] != HandshakeFinished)
            {
                return false;
            }

            clientSequence = SequenceOf(record);
            clientFinished = true;
        }

        plaintext.Clear();
        return serverFinished && clientFinished;
    }

    /// <summary>One datagram of a handed-over session: every record in it, in order.</summary>
    private void OnOffloadedDatagramLocked(ReadOnlySpan<byte> datagram, ref Outcome outcome)
    {
        while (!_closed && _records is not null)
        {
            if (datagram.IsEmpty)
            {
                return;
            }

            if (!NextRecord(ref datagram, out var record))
            {
                // A header cut short or a length beyond the datagram: the rest of it is not a record.
                Interlocked.Increment(ref _server.Counters._offloadRecordsDropped);
                return;
            }

            var epoch = BinaryPrimitives.ReadUInt16BigEndian(record[3..]);
            if (epoch == 0)
            {
                // The client's final flight again (its Certificate, ClientKeyExchange, CertificateVerify, CCS): our
                // final flight was lost. Anything else in clear text is dropped.
                var retransmission = record[0] == ContentChangeCipherSpec
                    || (record[0] == ContentHandshake && record.Length > DtlsRecords.RecordHeaderLength
                        && record[DtlsRecords.RecordHeaderLength] is HandshakeCertificate or HandshakeClientKeyExchange or HandshakeCertificateVerify);
                if (!retransmission || !ResendFinalFlightLocked(ref outcome))
                {
                    Interlocked.Increment(ref _server.Counters._offloadRecordsDropped);
                }

                continue;
            }

            var plaintext = ArrayPool<byte>.Shared.Rent(Math.Max(1, record.Length));
            var result = _records.Open(record, plaintext, out var length);
            if (result != DtlsOpenResult.Opened)
            {
                ArrayPool<byte>.Shared.Return(plaintext);
                if (result == DtlsOpenResult.BadRecord)
                {
                    Interlocked.Increment(ref _server.Counters._offloadBadRecords);
                }
                else
                {
                    Interlocked.Increment(ref _server.Counters._offloadRecordsDropped);
                }

                continue;
            }

            if (record[0] == ContentApplicationData && length > 0)
            {
                // The client has the keys in use: its final flight will not come again.
                _finalFlight = null;
                outcome.AddReceived(new DtlsDatagram(plaintext, length));
                Interlocked.Add(ref _bytesIn, length);
                Interlocked.Increment(ref _datagramsIn);
                _lastActivity = _server.Timers.Now;
                continue;
            }

            var type = record[0];
            var first = length > 0 ? plaintext[0] : (byte)0;
            var second = length > 1 ? plaintext[1] : (byte)0;
            ArrayPool<byte>.Shared.Return(plaintext, clearArray: true);
            switch (type)
            {
                case ContentAlert when length == 2 && second == AlertCloseNotify:
                    CloseLocked(DtlsCloseReason.PeerClosed, sendCloseNotify: true, ref outcome);
                    return;
                case ContentAlert when length == 2 && first == AlertFatal:
                    FailureDetail = $"fatal alert {second} received";
                    CloseLocked(DtlsCloseReason.ProtocolError, sendCloseNotify: false, ref outcome);
                    return;
                case ContentAlert when length == 2:
                    // Any other warning alert needs nothing.
                    break;
                case ContentAlert:
                    FailureDetail = "malformed alert";
                    CloseLocked(DtlsCloseReason.ProtocolError, sendCloseNotify: false, ref outcome);
                    return;
                case ContentHandshake when first == HandshakeFinished:
                    // The client's Finished again, in a retransmitted final flight.
                    if (!ResendFinalFlightLocked(ref outcome))
                    {
                        Interlocked.Increment(ref _server.Counters._offloadRecordsDropped);
                    }

                    break;
                case ContentHandshake when first == HandshakeClientHello:
                    // A renegotiation: refused with a warning, as OpenSSL does with SSL_OP_NO_RENEGOTIATION.
                    SendAlertLocked(AlertWarning, AlertNoRenegotiation, ref outcome);
                    break;
                default:
                    Interlocked.Increment(ref _server.Counters._offloadRecordsDropped);
                    break;
            }
        }
    }

    /// <summary>Sends the captured final flight again, at most once per interval and a few times in all; false when not sent.</summary>
    private bool ResendFinalFlightLocked(ref Outcome outcome)
    {
        var now = _server.Timers.Now;
        if (_finalFlight is null || now >= _finalFlightUntil)
        {
            _finalFlight = null;
            return false;
        }

        if (_flightResends >= MaxFinalFlightResends || (_lastFlightResend != long.MinValue && now - _lastFlightResend < Ticks(FinalFlightResendInterval)))
        {
            return false;
        }

        _lastFlightResend = now;
        _flightResends++;
        (outcome.Outbound ??= []).AddRange(_finalFlight);
        Interlocked.Increment(ref _server.Counters._finalFlightsResent);
        return true;
    }

    private void SendAlertLocked(byte level, byte description, ref Outcome outcome)
    {
        ReadOnlySpan<byte> alert = [level, description];
        if (_records?.Seal(ContentAlert, alert) is { } record)
        {
            (outcome.Outbound ??= []).Add(record);
        }
    }

    /// <summary>One application datagram as one record of a handed-over session.</summary>
    private DtlsSendResult SealLocked(ReadOnlySpan<byte> datagram, ref Outcome outcome)
    {
        var record = _records!.Seal(ContentApplicationData, datagram);
        if (record is null)
        {
            // The write sequence numbers are used up: the session ends rather than ever reuse a nonce.
            FailureDetail = "record sequence numbers used up";
            CloseLocked(DtlsCloseReason.ProtocolError, sendCloseNotify: false, ref outcome);
            return DtlsSendResult.Closed;
        }

        (outcome.Outbound ??= []).Add(record);
        Interlocked.Add(ref _bytesOut, datagram.Length);
        Interlocked.Increment(ref _datagramsOut);
        _lastActivity = _server.Timers.Now;
        return DtlsSendResult.Sent;
    }

    /// <summary>The timer of a handed-over session: the final flight's end and the AEAD objects' release.</summary>
    private void OffloadTimerLocked(long now)
    {
        if (_finalFlight is not null && now >= _finalFlightUntil)
        {
            _finalFlight = null;
        }

        if (_records is { HoldsContexts: true } records && now >= _lastActivity + Ticks(AeadContextIdle))
        {
            records.ReleaseContexts();
        }
    }

    private long OffloadDueLocked()
    {
        var due = long.MaxValue;
        if (_finalFlight is not null)
        {
            due = _finalFlightUntil;
        }

        if (_records is { HoldsContexts: true })
        {
            due = Math.Min(due, _lastActivity + Ticks(AeadContextIdle));
        }

        return due;
    }

    private void CloseOffloadLocked(bool sendCloseNotify, ref Outcome outcome)
    {
        if (_records is null)
        {
            return;
        }

        if (sendCloseNotify && IsEstablished)
        {
            SendAlertLocked(AlertWarning, AlertCloseNotify, ref outcome);
        }

        _records.Dispose();
        _records = null;
        _finalFlight = null;
    }

    /// <summary>Cuts the next whole record off <paramref name="datagram"/>; false when none is left or it is cut short.</summary>
    private static bool NextRecord(ref ReadOnlySpan<byte> datagram, out ReadOnlySpan<byte> record)
    {
        record = default;
        if (datagram.Length < DtlsRecords.RecordHeaderLength)
        {
            return false;
        }

        var length = BinaryPrimitives.ReadUInt16BigEndian(datagram[11..]);
        if (length > datagram.Length - DtlsRecords.RecordHeaderLength)
        {
            return false;
        }

        record = datagram[..(DtlsRecords.RecordHeaderLength + length)];
        datagram = datagram[record.Length..];
        return true;
    }

    private static ulong SequenceOf(ReadOnlySpan<byte> record) => BinaryPrimitives.ReadUInt64BigEndian(record[3..]) & DtlsRecordProtection.MaxSequence;
}
