using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Org.BouncyCastle.Tls;
using Platform.Gateway.Dtls.Bc;
using Platform.Gateway.Dtls.Tenants;

namespace Platform.Gateway.Dtls;

/// <summary>
/// A session served by the BouncyCastle engine: same admission, caps, handler calls and close reasons as an OpenSSL
/// session; only the engine behind <see cref="Send"/> and the datagram path differs. Its handshake runs on the
/// listener's BouncyCastle handshake threads; once established, each burst of datagrams (or a heartbeat timer) gets one
/// thread-pool run that hands them to BouncyCastle under the session lock, and nothing runs while it is idle.
/// </summary>
public sealed partial class DtlsSession
{
    private const int BcReadBufferSize = 16 * 1024 + 2048;

    /// <summary>
    /// How long BouncyCastle keeps a finished handshake to answer a repeated last flight (its record layer's
    /// retransmit timeout, twice TCP's maximum segment lifetime of 120 s), plus a second so that its own clock, which
    /// starts before the session sees the handshake end, has passed it for sure.
    /// </summary>
    internal const long BcHandshakeRetentionMillis = (2 * 120_000) + 1000;

    /// <summary>
    /// How long a session's record cipher stays keyed after its last record (as the handed-over OpenSSL sessions'
    /// AEAD objects, <see cref="AeadContextIdle"/>): a burst of records reuses it, an idle session holds none.
    /// </summary>
    internal const long BcCipherQuietMillis = 1000;

    private readonly BcEngine? _bc;

    /// <summary>A BouncyCastle session, created when a cookie-verified ClientHello asked for a feature its tenant enables.</summary>
    internal DtlsSession(DtlsServer server, ulong id, SocketAddress address, DtlsHandshakeLimits.Slot halfOpen, DtlsTenant tenant, int certificateIndex, DtlsClientHelloFeatures hello, DtlsRequest request)
    {
        _server = server;
        Id = id;
        Address = address;
        StartAddress = address;
        RemoteEndPoint = DtlsServer.ToEndPoint(address);
        StartedAt = server.Time.GetUtcNow();
        _lastActivity = server.Timers.Now;
        var timeout = server.Options.BcHandshakeTimeout < tenant.Settings.HandshakeTimeout ? server.Options.BcHandshakeTimeout : tenant.Settings.HandshakeTimeout;
        _handshakeDeadline = server.Timers.After(timeout);
        HalfOpen = halfOpen;
        Tenant = tenant;
        ServerName = hello.ServerName;
        var transport = new BcDatagramTransport(this, server, timeout);
        _bc = new BcEngine(this, transport, request, hello, certificateIndex, timeout);
    }

    /// <summary><c>openssl</c> or <c>bouncycastle</c>: the engine that serves this session.</summary>
    public string Engine => _bc is null ? DtlsEngines.OpenSsl : DtlsEngines.BouncyCastle;

    /// <summary>The connection ID the gateway issued (RFC 9146), lower-case hex, when one was negotiated.</summary>
    public string? ConnectionId => _bc?.ConnectionIdHex;

    /// <summary>SHA-256 (lower-case hex) of the client's raw public key (RFC 7250), when it authenticated with one.</summary>
    public string? RawPublicKeyFingerprint { get; private set; }

    /// <summary>Whether RFC 6520 heartbeats run on this session.</summary>
    public bool HeartbeatsEnabled => _bc?.Heartbeat is not null;

    /// <summary>Heartbeat requests the gateway sent (resends not counted).</summary>
    public long HeartbeatRequestsSent => _bc?.Heartbeat?.RequestsSent ?? 0;

    /// <summary>Heartbeat requests the client answered.</summary>
    public long HeartbeatResponsesReceived => _bc?.Heartbeat?.ResponsesReceived ?? 0;

    /// <summary>Times the session moved to a new client address on an authenticated, newest CID record.</summary>
    public long AddressChanges => _bc?.AddressChanges ?? 0;

    internal bool IsBouncyCastle => _bc is not null;

    /// <summary>Whether BouncyCastle may still hold this session's finished handshake (no read since it could drop it).</summary>
    internal bool BcHandshakeHeld
    {
        get
        {
            lock (_lock)
            {
                return _bc?.HandshakeHeldUntil is > 0;
            }
        }
    }

    /// <summary>BouncyCastle's established connection, for tests that look into it.</summary>
    internal DtlsTransport? BcTransport => _bc?.Dtls;

    /// <summary>The session's record cipher, for tests that look into it.</summary>
    internal BcQuietCipher? BcCipher => _bc?.Cipher;

    /// <summary>The address the handshake came from (a BouncyCastle handshake's place is counted for its source).</summary>
    internal SocketAddress? StartAddress { get; }

    private void BcBegin()
    {
        try
        {
            _server.BcPool.Run(RunBcHandshake);
        }
        catch (Exception ex) when (ex is ObjectDisposedException or InvalidOperationException)
        {
            // The listener is stopping.
            _server.BcHandshakeEnded(this);
            Terminate(DtlsCloseReason.ServerStopping, sendCloseNotify: false);
        }
    }

    private bool BcPost(ReadOnlySpan<byte> datagram, SocketAddress source)
    {
        var bc = _bc!;
        if (!bc.Transport.Post(datagram, source))
        {
            return false;
        }

        if (IsEstablished)
        {
            bc.SchedulePump(force: false);
        }

        return true;
    }

    /// <summary>A datagram the receive loop routed here by connection ID, from <paramref name="source"/>.</summary>
    internal bool PostFrom(ReadOnlySpan<byte> datagram, SocketAddress source) => BcPost(datagram, source);

    private void RunBcHandshake()
    {
        var bc = _bc!;
        var outcome = new Outcome();
        try
        {
            var server = new BcTlsServer(_server.BcCrypto, this, Tenant!, bc.CertificateIndex, bc.Hello, bc.Timeout);
            bc.Server = server;
            BcSharedCrypto.TakeMadeCipher();
            var dtls = new DtlsServerProtocol().Accept(server, bc.Transport, bc.Request);
            var cipher = BcSharedCrypto.TakeMadeCipher();
            lock (_lock)
            {
                if (_closed)
                {
                    dtls.Close();
                    return;
                }

                bc.Dtls = dtls;
                bc.Cipher = cipher;
                bc.Request = null;
                IsEstablished = true;
                EstablishedAt = _server.Time.GetUtcNow();
                _lastActivity = _server.Timers.Now;
                CipherSuite = server.CipherSuiteName;
                ProtocolVersion = "DTLSv1.2";
                MaxDatagramSize = dtls.GetSendLimit();
                bc.Transport.ConnectionIdLength = bc.ConnectionId?.Length ?? 0;
                bc.Transport.Established();
                bc.HandshakeHeldUntil = Environment.TickCount64 + BcHandshakeRetentionMillis;
                outcome.Opened = true;
                Interlocked.Increment(ref _server.BcCounters._handshakesCompleted);
                Interlocked.Increment(ref _server.Counters._handshakesCompleted);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            lock (_lock)
            {
                if (!_closed)
                {
                    var timedOut = bc.Transport.DeadlinePassed;
                    Interlocked.Increment(ref timedOut ? ref _server.BcCounters._handshakesTimedOut : ref _server.BcCounters._handshakesFailed);
                    Interlocked.Increment(ref timedOut ? ref _server.Counters._handshakesTimedOut : ref _server.Counters._handshakesFailed);
                    FailureDetail ??= timedOut ? "handshake timed out" : bc.Server?.FailureDetail ?? ex.Message;
                    CloseLocked(timedOut ? DtlsCloseReason.HandshakeTimeout : DtlsCloseReason.HandshakeFailed, sendCloseNotify: false, ref outcome);
                }
            }
        }
        finally
        {
            BcSharedCrypto.TakeMadeCipher();
            _server.BcHandshakeEnded(this);
        }

        Complete(ref outcome);
        if (outcome.Opened)
        {
            bc.SchedulePump(force: false);
        }
    }

    /// <summary>Admission, inside BouncyCastle's handshake, once the ClientHello is parsed and before the server's first flight.</summary>
    internal void BcAdmit()
    {
        switch (_server.Admit(this, Tenant!, mayDefer: true))
        {
            case DtlsServer.AdmissionOutcome.Accepted:
                AdoptTenant(Tenant!);
                return;
            case DtlsServer.AdmissionOutcome.Deferred:
                // Nothing is sent: the client retransmits its ClientHello and gets a fresh handshake.
                _bc!.Transport.Silent = true;
                Silence();
                throw new TlsFatalAlert(AlertDescription.access_denied, "admission deferred");
            default:
                FailureDetail ??= "refused by admission";
                throw new TlsFatalAlert(AlertDescription.access_denied, "refused by admission");
        }
    }

    /// <summary>The PSK of <paramref name="identity"/> if it belongs to the session's tenant; a copy, since BouncyCastle zeroes it after use.</summary>
    internal byte[]? BcResolvePsk(byte[] identity)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, true).GetString(identity);
        }
        catch (DecoderFallbackException)
        {
            FailureDetail = "PSK identity is not UTF-8";
            return null;
        }

        if (!_server.Tenants.TryResolvePsk(text, out var tenant, out var key) || key.Length == 0)
        {
            FailureDetail = "unknown PSK identity";
            return null;
        }

        if (tenant.TenantId != Tenant!.TenantId)
        {
            FailureDetail = "PSK identity of another tenant";
            return null;
        }

        PskIdentity = text;
        return key.ToArray();
    }

    internal byte[] BcAllocateConnectionId(int length)
    {
        var bc = _bc!;
        if (bc.ConnectionId is { } existing)
        {
            return existing.ToArray();
        }

        bc.ConnectionId = _server.ConnectionIds.Allocate(length, this);
        return bc.ConnectionId.ToArray();
    }

    internal TlsHeartbeat BcCreateHeartbeat()
    {
        var features = Tenant!.Settings.Features;
        var heartbeat = new BcHeartbeat((int)features.HeartbeatInterval.TotalMilliseconds, (int)features.HeartbeatTimeout.TotalMilliseconds);
        _bc!.Heartbeat = heartbeat;
        return heartbeat;
    }

    internal void BcRawPublicKeyAccepted(string fingerprint) => RawPublicKeyFingerprint = fingerprint;

    private DtlsSendResult BcSend(ReadOnlySpan<byte> datagram)
    {
        var outcome = new Outcome();
        DtlsSendResult result;
        lock (_lock)
        {
            if (_closed || _bc!.Dtls is not { } dtls)
            {
                return _closed ? DtlsSendResult.Closed : DtlsSendResult.NotEstablished;
            }

            if (datagram.Length > MaxDatagramSize)
            {
                Interlocked.Increment(ref _server.Counters._oversizedSends);
                return DtlsSendResult.TooLarge;
            }

            try
            {
                dtls.Send(datagram);
                Interlocked.Add(ref _bytesOut, datagram.Length);
                Interlocked.Increment(ref _datagramsOut);
                _lastActivity = _server.Timers.Now;
                result = DtlsSendResult.Sent;

                // The record keyed the cipher: its release after a quiet second needs a timer entry.
                BcScheduleLocked();
            }
            catch (Exception ex) when (ex is IOException or TlsException)
            {
                FailureDetail = ex.Message;
                CloseLocked(DtlsCloseReason.ProtocolError, sendCloseNotify: false, ref outcome);
                result = DtlsSendResult.Closed;
            }
        }

        Complete(ref outcome);
        return result;
    }

    /// <summary>
    /// Hands every waiting datagram to BouncyCastle (and, when <paramref name="force"/>, runs it once even with none, so it
    /// can send or resend a heartbeat or notice one timed out), delivers what it decrypted and moves the session to a
    /// new address when an authenticated, newest CID record came from one.
    /// </summary>
    private void BcPump(bool force)
    {
        var bc = _bc!;
        var outcome = new Outcome();
        var moved = false;
        lock (_lock)
        {
            if (_closed || bc.Dtls is not { } dtls)
            {
                return;
            }

            var buffer = ArrayPool<byte>.Shared.Rent(BcReadBufferSize);
            try
            {
                // Also read on while BouncyCastle may hold records of a datagram with several: it returns one
                // record's data per read and would otherwise keep the rest until the next datagram or timer.
                while (!_closed && (force || bc.Transport.HasPending || bc.Transport.EngineMayHoldRecords))
                {
                    force = false;
                    bc.ConfirmedSource = null;
                    var readAt = Environment.TickCount64;
                    // Sized to the waiting datagram: BouncyCastle allocates a record buffer of the read's length (plus a
                    // header) for every read, which at the full 16 KiB made each datagram, and each release read, 16 KiB of garbage.
                    // Records BouncyCastle still holds from the last datagram come first, so the read fits them too.
                    var readLength = Math.Clamp(Math.Max(bc.Transport.PendingLength, bc.Transport.HeldLength), BcDatagramTransport.IdleReadLength, buffer.Length);
                    // A read of the whole buffer takes any datagram (one longer than the buffer is cut, and dropped).
                    bc.Transport.ReadLimit = readLength < buffer.Length ? readLength : int.MaxValue;
                    var length = dtls.Receive(buffer, 0, readLength, 1, bc.RecordCallback);

                    // BouncyCastle drops its finished handshake inside a read: on the client's first application
                    // record, or in any read once its retransmit timeout has passed.
                    if (length >= 0 || readAt >= bc.HandshakeHeldUntil)
                    {
                        bc.HandshakeHeldUntil = 0;
                    }

                    if (bc.ConfirmedSource is { } source && !source.Equals(Address))
                    {
                        _server.BcMoveSession(this, source);
                        bc.AddressChanges++;
                        moved = true;
                    }

                    if (length >= 0)
                    {
                        outcome.AddReceived(DtlsDatagram.CopyOf(buffer.AsSpan(0, length)));
                        Interlocked.Add(ref _bytesIn, length);
                        Interlocked.Increment(ref _datagramsIn);
                        _lastActivity = _server.Timers.Now;
                    }

                    if (bc.Transport.ClosedByEngine)
                    {
                        CloseLocked(DtlsCloseReason.PeerClosed, sendCloseNotify: false, ref outcome);
                    }
                }
            }
            catch (TlsTimeoutException ex)
            {
                Interlocked.Increment(ref _server.BcCounters._heartbeatTimeouts);
                FailureDetail = ex.Message;
                CloseLocked(DtlsCloseReason.HeartbeatTimeout, sendCloseNotify: false, ref outcome);
            }
            catch (TlsFatalAlertReceived ex)
            {
                FailureDetail = ex.Message;
                CloseLocked(DtlsCloseReason.ProtocolError, sendCloseNotify: false, ref outcome);
            }
            catch (Exception ex) when (ex is IOException or TlsException)
            {
                FailureDetail = ex.Message;
                CloseLocked(bc.Transport.ClosedByEngine ? DtlsCloseReason.PeerClosed : DtlsCloseReason.ProtocolError, sendCloseNotify: false, ref outcome);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            BcScheduleLocked();
        }

        if (moved)
        {
            _server.BcAddressChanged(this);
        }

        Complete(ref outcome);
    }

    /// <summary>
    /// The session's one timer entry, the soonest of: the tenant's idle timeout; BouncyCastle's next heartbeat step; the
    /// read that lets BouncyCastle drop its finished handshake (a session that was never read since).
    /// </summary>
    private void BcScheduleLocked()
    {
        if (_closed)
        {
            return;
        }

        var due = long.MaxValue;
        var idle = Tenant?.Settings.IdleTimeout ?? TimeSpan.Zero;
        if (idle > TimeSpan.Zero)
        {
            due = _lastActivity + Ticks(idle);
        }

        if (_bc!.Heartbeat is { } heartbeat)
        {
            // A few milliseconds late, so BouncyCastle finds its own timer expired when the run comes.
            var wait = Math.Max(0, heartbeat.NextDue() - Environment.TickCount64) + 5;
            due = Math.Min(due, _server.Timers.After(TimeSpan.FromMilliseconds(wait)));
        }

        if (_bc.HandshakeHeldUntil != 0)
        {
            var wait = Math.Max(0, _bc.HandshakeHeldUntil - Environment.TickCount64);
            due = Math.Min(due, _server.Timers.After(TimeSpan.FromMilliseconds(wait)));
        }

        if (_bc.Cipher is { Holds: true } cipher)
        {
            var wait = Math.Max(0, cipher.LastUsed + BcCipherQuietMillis - Environment.TickCount64);
            due = Math.Min(due, _server.Timers.After(TimeSpan.FromMilliseconds(wait)));
        }

        if (due < _queuedDue)
        {
            _queuedDue = due;
            _server.Timers.Schedule(this, due);
        }
        else if (due == long.MaxValue && _queuedDue != long.MaxValue)
        {
            // Nothing is due any more (the client's data let BouncyCastle drop its handshake): the entry goes.
            _queuedDue = long.MaxValue;
            _server.Timers.Cancel(this);
        }
    }

    private void BcOnTimer(long due)
    {
        var bc = _bc!;
        var outcome = new Outcome();
        var pump = false;
        lock (_lock)
        {
            if (_closed || due != _queuedDue || !IsEstablished)
            {
                return;
            }

            _queuedDue = long.MaxValue;
            var idle = Tenant?.Settings.IdleTimeout ?? TimeSpan.Zero;
            if (idle > TimeSpan.Zero && _server.Timers.Now >= _lastActivity + Ticks(idle))
            {
                CloseLocked(DtlsCloseReason.IdleTimeout, sendCloseNotify: true, ref outcome);
            }
            else
            {
                var now = Environment.TickCount64;
                if (bc.Cipher is { Holds: true } cipher && now >= cipher.LastUsed + BcCipherQuietMillis)
                {
                    cipher.Release();
                }

                // BouncyCastle runs only for what it has to do: a heartbeat step, or the read that drops its handshake.
                pump = bc.Heartbeat is not null || (bc.HandshakeHeldUntil != 0 && now >= bc.HandshakeHeldUntil);
                if (!pump)
                {
                    BcScheduleLocked();
                }
            }
        }

        if (pump)
        {
            bc.SchedulePump(force: true);
        }

        Complete(ref outcome);
    }

    /// <summary>The BouncyCastle part of closing, under the session lock: close_notify, the connection ID, a waiting handshake.</summary>
    private void BcCloseLocked(bool sendCloseNotify)
    {
        var bc = _bc!;
        if (bc.Dtls is { } dtls)
        {
            if (!sendCloseNotify)
            {
                bc.Transport.Silent = true;
            }

            try
            {
                dtls.Close();
            }
            catch (Exception ex) when (ex is IOException or TlsException)
            {
                // The peer is gone or the record layer failed: nothing more to tell it.
                FailureDetail ??= ex.Message;
            }
        }

        if (bc.ConnectionId is { } cid)
        {
            _server.ConnectionIds.Release(cid, this);
        }

        bc.Transport.Shut();
    }

    internal void SetAddress(SocketAddress address)
    {
        Address = address;
        RemoteEndPoint = DtlsServer.ToEndPoint(address);
    }

    /// <summary>The BouncyCastle state of one session.</summary>
    private sealed class BcEngine : IThreadPoolWorkItem
    {
        private readonly DtlsSession _session;
        private int _scheduled;
        private int _force;

        public BcEngine(DtlsSession session, BcDatagramTransport transport, DtlsRequest request, DtlsClientHelloFeatures hello, int certificateIndex, TimeSpan timeout)
        {
            _session = session;
            Transport = transport;
            Request = request;
            Hello = hello;
            CertificateIndex = certificateIndex;
            Timeout = timeout;
            RecordCallback = flags =>
            {
                // RFC 9146 section 6: only an authenticated record that is the newest seen may move the peer.
                if ((flags & (DtlsRecordFlags.UsesConnectionID | DtlsRecordFlags.IsNewest)) == (DtlsRecordFlags.UsesConnectionID | DtlsRecordFlags.IsNewest))
                {
                    ConfirmedSource = Transport.CurrentSource;
                }
            };
        }

        public BcDatagramTransport Transport { get; }

        public DtlsRequest? Request { get; set; }

        public DtlsClientHelloFeatures Hello { get; }

        public int CertificateIndex { get; }

        public TimeSpan Timeout { get; }

        public DtlsRecordCallback RecordCallback { get; }

        public BcTlsServer? Server { get; set; }

        public DtlsTransport? Dtls { get; set; }

        public BcQuietCipher? Cipher { get; set; }

        public BcHeartbeat? Heartbeat { get; set; }

        public byte[]? ConnectionId { get; set; }

        public string? ConnectionIdHex => ConnectionId is { } cid ? Convert.ToHexStringLower(cid) : null;

        public SocketAddress? ConfirmedSource { get; set; }

        public long AddressChanges { get; set; }

        /// <summary>
        /// <see cref="Environment.TickCount64"/> from which a read lets BouncyCastle drop the finished handshake it keeps
        /// for retransmission; 0 once a read did (or the client's application data did).
        /// </summary>
        public long HandshakeHeldUntil { get; set; }

        public void SchedulePump(bool force)
        {
            if (force)
            {
                Volatile.Write(ref _force, 1);
            }

            if (Interlocked.Exchange(ref _scheduled, 1) == 0)
            {
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            }
        }

        void IThreadPoolWorkItem.Execute()
        {
            Volatile.Write(ref _scheduled, 0);
            var force = Interlocked.Exchange(ref _force, 0) == 1;
            try
            {
                _session.BcPump(force);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                _session.OnWorkerFault(ex);
            }
        }
    }
}

/// <summary>Names of the two DTLS engines, as the directory shows them.</summary>
public static class DtlsEngines
{
    /// <summary>The system OpenSSL: every session that needs no feature beyond the handshake.</summary>
    public const string OpenSsl = "openssl";

    /// <summary>BouncyCastle: sessions with heartbeats, connection IDs or raw public keys.</summary>
    public const string BouncyCastle = "bouncycastle";
}
