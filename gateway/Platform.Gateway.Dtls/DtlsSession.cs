using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Platform.Gateway.Dtls.Interop;
using Platform.Gateway.Dtls.Tenants;

namespace Platform.Gateway.Dtls;

/// <summary>
/// One client address on a listener, from the verified cookie to the end. Every OpenSSL call on the session's SSL
/// object happens under its lock; sockets and handler calls happen after the lock is released. Its datagrams reach
/// it through its <see cref="DtlsSessionInbox"/>, processed by one worker at a time.
/// </summary>
public sealed partial class DtlsSession : ISslCallbackTarget
{
    private const int AlertAccessDenied = 49;
    private const int AlertUnrecognizedName = 112;
    private const int ReadBufferSize = 16 * 1024 + 2048;

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<nint, string> NativeNames = new();

    private readonly DtlsServer _server;
    private readonly Lock _lock = new();
    private readonly Lock _deliveryLock = new();
    private readonly DtlsSessionInbox? _inbox; // OpenSSL sessions only: BouncyCastle's datagrams wait in its transport
    private readonly DtlsReceiveSocket? _via;
    private readonly byte[]? _verifiedCookie;
    private SslHandle? _ssl;
    private DatagramChannel? _channel;
    private long _handshakeDeadline;
    private long _lastActivity;
    private long _queuedDue = long.MaxValue;
    private bool _closed;
    private volatile bool _established;
    private bool _closeDelivered;
    private bool _openDelivered;
    private bool _silent;
    private bool _pskRefused;
    private bool _buffersReleased;
    private long _bytesIn;
    private long _bytesOut;
    private long _datagramsIn;
    private long _datagramsOut;

    internal DtlsSession(DtlsServer server, ulong id, SocketAddress address, SslHandle ssl, DatagramChannel channel, DtlsHandshakeLimits.Slot halfOpen, ReadOnlySpan<byte> verifiedCookie, DtlsReceiveSocket? via = null)
    {
        _verifiedCookie = verifiedCookie.ToArray();
        _server = server;
        _via = via;
        Id = id;
        Address = address;
        RemoteEndPoint = DtlsServer.ToEndPoint(address);
        _ssl = ssl;
        _channel = channel;
        channel.Owner = this;
        StartedAt = server.Time.GetUtcNow();
        _lastActivity = server.Timers.Now;
        _handshakeDeadline = server.Timers.After(server.Options.HandshakeTimeout);
        HalfOpen = halfOpen;
        Interlocked.Increment(ref server.Counters._openSslObjectsHeld);
        _inbox = new DtlsSessionInbox(this, server.Workers, server.Options.SessionQueueCapacity, server.Options.SessionQueueBytes);
    }

    /// <summary>Listener-unique sequence number (the gateway formats its connection id from it).</summary>
    public ulong Id { get; }

    /// <summary>The client's address and port.</summary>
    public IPEndPoint RemoteEndPoint { get; private set; }

    /// <summary>The tenant, once SNI, the dedicated port or the PSK identity named it.</summary>
    public DtlsTenant? Tenant { get; private set; }

    /// <summary>SNI host name sent by the client, if any.</summary>
    public string? ServerName { get; private set; }

    /// <summary>PSK identity (<c>{slug}/{device}</c>) when a PSK suite was negotiated.</summary>
    public string? PskIdentity { get; private set; }

    /// <summary>Negotiated cipher suite (OpenSSL name), once established.</summary>
    public string? CipherSuite { get; private set; }

    /// <summary>Negotiated protocol version, once established.</summary>
    public string? ProtocolVersion { get; private set; }

    /// <summary>The verified client certificate, when the client sent one.</summary>
    public DtlsClientCertificate? ClientCertificate { get; private set; }

    /// <summary>When the cookie was verified.</summary>
    public DateTimeOffset StartedAt { get; }

    /// <summary>When the handshake completed.</summary>
    public DateTimeOffset? EstablishedAt { get; private set; }

    /// <summary>Whether the handshake completed.</summary>
    public bool IsEstablished
    {
        get => _established;
        private set => _established = value;
    }

    /// <summary>Whether the session has ended.</summary>
    public bool IsClosed => Volatile.Read(ref _closed);

    /// <summary>OpenSSL's reason when the handshake or session failed.</summary>
    public string? FailureDetail { get; private set; }

    /// <summary>Largest datagram <see cref="Send"/> accepts: one record within the listener's MTU.</summary>
    public int MaxDatagramSize { get; private set; }

    /// <summary>Application bytes received.</summary>
    public long BytesIn => Interlocked.Read(ref _bytesIn);

    /// <summary>Application bytes sent.</summary>
    public long BytesOut => Interlocked.Read(ref _bytesOut);

    /// <summary>Application datagrams received.</summary>
    public long DatagramsIn => Interlocked.Read(ref _datagramsIn);

    /// <summary>Application datagrams sent.</summary>
    public long DatagramsOut => Interlocked.Read(ref _datagramsOut);

    internal SocketAddress Address { get; private set; }

    internal bool Admitted { get; private set; }

    /// <summary>Whether the session holds no record buffers now (established and idle, see ReleaseBuffersLocked).</summary>
    internal bool RecordBuffersReleased
    {
        get
        {
            lock (_lock)
            {
                return _buffersReleased || _records is not null;
            }
        }
    }

    /// <summary>What the session is counted in by the half-open caps until its handshake ends.</summary>
    internal DtlsHandshakeLimits.Slot HalfOpen { get; }

    /// <summary>Encrypts <paramref name="datagram"/> as one record and sends it.</summary>
    public DtlsSendResult Send(ReadOnlySpan<byte> datagram)
    {
        if (_bc is not null)
        {
            return BcSend(datagram);
        }

        var outcome = new Outcome();
        DtlsSendResult result;
        lock (_lock)
        {
            if (_closed || (_ssl is null && _records is null))
            {
                return DtlsSendResult.Closed;
            }

            if (!IsEstablished)
            {
                return DtlsSendResult.NotEstablished;
            }

            if (datagram.Length > MaxDatagramSize)
            {
                Interlocked.Increment(ref _server.Counters._oversizedSends);
                return DtlsSendResult.TooLarge;
            }

            result = _records is not null ? SealLocked(datagram, ref outcome)
                : RestoreBuffersLocked(ref outcome) ? WriteLocked(datagram, ref outcome) : DtlsSendResult.Closed;
            CollectLocked(ref outcome);
        }

        Complete(ref outcome);
        return result;
    }

    /// <summary>Sends close_notify and ends the session.</summary>
    public void Close() => Terminate(DtlsCloseReason.LocalClose, sendCloseNotify: true);

    internal void Terminate(DtlsCloseReason reason, bool sendCloseNotify)
    {
        var outcome = new Outcome();
        lock (_lock)
        {
            CloseLocked(reason, sendCloseNotify, ref outcome);
            CollectLocked(ref outcome);
        }

        Complete(ref outcome);
    }

    /// <summary>Queues the first handshake step (the ClientHello the cookie check let through) for a worker.</summary>
    internal void Begin()
    {
        if (_bc is not null)
        {
            BcBegin();
            return;
        }

        _inbox!.Start();
    }

    /// <summary>Hands one datagram to the session's worker; false when its inbox is full and the datagram was dropped.</summary>
    internal bool Post(ReadOnlySpan<byte> datagram) => _bc is not null ? BcPost(datagram, Address) : _inbox!.Post(datagram);

    /// <summary>A worker caught an exception while processing this session.</summary>
    internal void OnWorkerFault(Exception fault) => _server.ReportWorkerFault(this, fault);

    internal void Start()
    {
        var outcome = new Outcome();
        lock (_lock)
        {
            DriveHandshakeLocked(ref outcome);
            CollectLocked(ref outcome);
        }

        Complete(ref outcome);
    }

    internal void OnDatagram(byte[] buffer, int length)
    {
        var outcome = new Outcome();
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            if (_records is not null)
            {
                OnOffloadedDatagramLocked(buffer.AsSpan(0, length), ref outcome);
            }
            else if (_channel is null || (!IsEstablished && WaitsForLease(buffer.AsSpan(0, length))))
            {
                return;
            }
            else if (RestoreBuffersLocked(ref outcome))
            {
                _channel.SetInbound(buffer, length);
                var completes = false;
                if (!IsEstablished)
                {
                    DriveHandshakeLocked(ref outcome);
                    completes = IsEstablished;
                }

                if (IsEstablished && !_closed)
                {
                    ReadLocked(length, ref outcome);
                }

                _channel?.ClearInbound();
                if (completes && !_closed)
                {
                    if (outcome.ReceivedCount == 0)
                    {
                        TryHandOverLocked(buffer.AsSpan(0, length), ref outcome);
                    }
                    else
                    {
                        // Application data OpenSSL had buffered was read already: its sequence numbers are not known here.
                        Interlocked.Increment(ref _server.Counters._handoverCheckFailed);
                    }
                }
            }

            CollectLocked(ref outcome);
        }

        Complete(ref outcome);
    }

    internal void OnTimer(long due)
    {
        if (_bc is not null)
        {
            BcOnTimer(due);
            return;
        }

        var outcome = new Outcome();
        lock (_lock)
        {
            if (_closed || (_ssl is null && _records is null) || due != _queuedDue)
            {
                return;
            }

            _queuedDue = long.MaxValue;
            var now = _server.Timers.Now;
            var idle = Tenant?.Settings.IdleTimeout ?? TimeSpan.Zero;
            if (!IsEstablished && now >= _handshakeDeadline)
            {
                Interlocked.Increment(ref _server.Counters._handshakesTimedOut);
                FailureDetail = "handshake timed out";
                CloseLocked(DtlsCloseReason.HandshakeTimeout, sendCloseNotify: false, ref outcome);
            }
            else if (IsEstablished && idle > TimeSpan.Zero && now >= _lastActivity + Ticks(idle))
            {
                CloseLocked(DtlsCloseReason.IdleTimeout, sendCloseNotify: true, ref outcome);
            }
            else if (_records is not null)
            {
                OffloadTimerLocked(now);
            }
            else if (RestoreBuffersLocked(ref outcome))
            {
                OpenSslError.Clear();
                // Retransmits the last flight when OpenSSL's own timer has expired; negative once retries run out.
                if (NativeMethods.SSL_ctrl(_ssl!, NativeMethods.DtlsCtrlHandleTimeout, 0, nint.Zero) < 0)
                {
                    Interlocked.Increment(ref _server.Counters._handshakesTimedOut);
                    FailureDetail = "retransmissions exhausted: " + OpenSslError.Drain(out _);
                    CloseLocked(IsEstablished ? DtlsCloseReason.ProtocolError : DtlsCloseReason.HandshakeTimeout, sendCloseNotify: false, ref outcome);
                }
            }

            CollectLocked(ref outcome);
        }

        Complete(ref outcome);
    }

    // OpenSSL checks the ClientHello's cookie once more in SSL_accept: it is the one the listener's cookie layer verified
    // before this session existed. OpenSSL never makes a cookie (its HelloVerifyRequest would be a second exchange).
    int ISslCallbackTarget.GenerateCookie(Span<byte> cookie) => 0;

    bool ISslCallbackTarget.VerifyCookie(ReadOnlySpan<byte> cookie) => _verifiedCookie is { } verified && CryptographicOperations.FixedTimeEquals(verified, cookie);

    int ISslCallbackTarget.OnServerName(nint ssl, string? hostName, out int alert)
    {
        alert = 0;
        var directory = _server.Tenants;
        DtlsTenant? tenant;
        int index;
        if (_server.Options.DedicatedTenantId is { } dedicated)
        {
            tenant = directory.FindById(dedicated);
            index = tenant is null || hostName is null ? 0 : tenant.CertificateIndexFor(hostName);
        }
        else if (hostName is null)
        {
            // No SNI: the tenant can still come from a PSK identity.
            return NativeMethods.TlsextErrOk;
        }
        else if (!directory.TryResolveHost(hostName, out tenant, out index))
        {
            tenant = null;
        }

        ServerName = hostName;
        if (tenant is null)
        {
            FailureDetail = "no tenant for server name";
            Interlocked.Increment(ref _server.Counters._refused);
            alert = AlertUnrecognizedName;
            return NativeMethods.TlsextErrAlertFatal;
        }

        if (!BindTenant(ssl, tenant, index))
        {
            alert = SslCallbacks.AlertInternalError;
            return NativeMethods.TlsextErrAlertFatal;
        }

        if (!_server.TryAdmit(this, tenant, atClientHello: true))
        {
            FailureDetail ??= "refused by admission";
            alert = AlertAccessDenied;
            return NativeMethods.TlsextErrAlertFatal;
        }

        return NativeMethods.TlsextErrOk;
    }

    /// <summary>
    /// A client known only by its PSK identity names it in its second flight (ClientKeyExchange). Read here,
    /// before OpenSSL sees the flight, it lets admission wait for a MaxConnections lease in flight: the
    /// flight is dropped unread and the handshake goes on with the client's retransmission, instead of
    /// being refused with the only alert OpenSSL's PSK callback can send, unknown_psk_identity, which a
    /// device would take for wrong credentials. True when the datagram is to be dropped.
    /// </summary>
    private bool WaitsForLease(ReadOnlySpan<byte> datagram)
    {
        if (Tenant is not null || _pskRefused || !DtlsRecords.TryReadPskIdentity(datagram, out var identity)
            || !_server.Tenants.TryResolvePsk(identity, out var tenant, out _))
        {
            return false;
        }

        // The handler decides for the session's tenant.
        Tenant = tenant;
        switch (_server.Admit(this, tenant, mayDefer: true))
        {
            case DtlsServer.AdmissionOutcome.Deferred:
                // Asked again, from the start, when the flight comes back.
                Tenant = null;
                FailureDetail = "admission deferred";
                return true;
            case DtlsServer.AdmissionOutcome.Accepted:
                FailureDetail = null;
                AdoptTenant(tenant);
                return false;
            default:
                // Counted as refused already; OpenSSL's PSK callback ends the handshake without asking again.
                _pskRefused = true;
                FailureDetail = "refused by admission";
                return false;
        }
    }

    int ISslCallbackTarget.OnPskIdentity(string identity, Span<byte> key)
    {
        if (_pskRefused)
        {
            return 0;
        }

        if (!_server.Tenants.TryResolvePsk(identity, out var tenant, out var secret))
        {
            FailureDetail = "unknown PSK identity";
            Interlocked.Increment(ref _server.Counters._refused);
            return 0;
        }

        if ((Tenant is not null && Tenant.TenantId != tenant.TenantId) || secret.Length > key.Length || secret.Length == 0)
        {
            FailureDetail = "PSK identity of another tenant";
            Interlocked.Increment(ref _server.Counters._refused);
            return 0;
        }

        if (Tenant is null)
        {
            // The identity could not be read ahead of OpenSSL (see WaitsForLease): admitted here, where nothing may wait.
            AdoptTenant(tenant);
            if (!_server.TryAdmit(this, tenant, atClientHello: false))
            {
                FailureDetail ??= "refused by admission";
                return 0;
            }
        }

        PskIdentity = identity;
        secret.CopyTo(key);
        return secret.Length;
    }

    internal void MarkAdmitted() => Admitted = true;

    /// <summary>The session's tenant from here on; the handshake must finish within that tenant's handshake timeout.</summary>
    private void AdoptTenant(DtlsTenant tenant)
    {
        Tenant = tenant;
        _handshakeDeadline = Math.Min(_handshakeDeadline, _server.Timers.After(tenant.Settings.HandshakeTimeout));
    }

    private bool BindTenant(nint ssl, DtlsTenant tenant, int index)
    {
        AdoptTenant(tenant);
        if (tenant.Context(index) is { } context)
        {
            var added = false;
            try
            {
                context.DangerousAddRef(ref added);
                if (NativeMethods.SSL_set_SSL_CTX(ssl, context) == nint.Zero)
                {
                    FailureDetail = "SSL_set_SSL_CTX failed";
                    return false;
                }
            }
            catch (ObjectDisposedException)
            {
                // The tenant directory was replaced and disposed between lookup and switch; the client retries.
                FailureDetail = "tenant configuration replaced during handshake";
                return false;
            }
            finally
            {
                if (added)
                {
                    context.DangerousRelease();
                }
            }
        }

        // SSL_new gave the object the bootstrap context's suites, the default list; SSL_set_SSL_CTX keeps them. OpenSSL
        // parses a cipher string anew each time (about 10 µs), so only a tenant with suites of its own sets them.
        if (!string.Equals(tenant.CipherList, SslContextFactory.DefaultCipherList, StringComparison.Ordinal)
            && NativeMethods.SSL_set_cipher_list(ssl, tenant.CipherList) != 1)
        {
            FailureDetail = "tenant cipher list rejected";
            return false;
        }

        NativeMethods.SSL_set_verify(ssl, tenant.VerifyMode, nint.Zero);
        return true;
    }

    private void DriveHandshakeLocked(ref Outcome outcome)
    {
        if (_ssl is null)
        {
            return;
        }

        OpenSslError.Clear();
        var rc = NativeMethods.SSL_do_handshake(_ssl);
        if (rc == 1)
        {
            IsEstablished = true;
            EstablishedAt = _server.Time.GetUtcNow();
            _lastActivity = _server.Timers.Now;
            CaptureDetailsLocked();
            outcome.Opened = true;
            Interlocked.Increment(ref _server.Counters._handshakesCompleted);
            return;
        }

        var error = NativeMethods.SSL_get_error(_ssl, rc);
        if (error is NativeMethods.SslErrorWantRead or NativeMethods.SslErrorWantWrite)
        {
            OpenSslError.Clear();
            return;
        }

        var detail = OpenSslError.Drain(out _);
        FailureDetail ??= detail.Length == 0 ? "handshake failed" : detail;
        outcome.Fault = _channel?.CallbackFault;
        Interlocked.Increment(ref _server.Counters._handshakesFailed);
        CloseLocked(DtlsCloseReason.HandshakeFailed, sendCloseNotify: false, ref outcome);
    }

    /// <summary>
    /// Reads every application record the datagram just offered (of <paramref name="datagramLength"/> bytes) carried.
    /// Each record is decrypted straight into a pooled buffer that then goes to the handler as it is: a record's
    /// plaintext is never longer than the datagram that carried it. A record OpenSSL buffered earlier may be longer;
    /// one that fills the buffer is read on into a larger one, so a record is never split into two datagrams.
    /// </summary>
    private unsafe void ReadLocked(int datagramLength, ref Outcome outcome)
    {
        while (_ssl is not null && !_closed)
        {
            OpenSslError.Clear();
            var buffer = ArrayPool<byte>.Shared.Rent(datagramLength + 1);
            int rc;
            fixed (byte* data = buffer)
            {
                rc = NativeMethods.SSL_read(_ssl, data, buffer.Length);
            }

            if (rc > 0)
            {
                var length = rc;
                while (length == buffer.Length && length < ReadBufferSize)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(ReadBufferSize);
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                    fixed (byte* data = buffer)
                    {
                        rc = NativeMethods.SSL_read(_ssl, data + length, buffer.Length - length);
                    }

                    if (rc <= 0)
                    {
                        OpenSslError.Clear();
                        break;
                    }

                    length += rc;
                }

                outcome.AddReceived(new DtlsDatagram(buffer, length));
                Interlocked.Add(ref _bytesIn, length);
                Interlocked.Increment(ref _datagramsIn);
                _lastActivity = _server.Timers.Now;
                continue;
            }

            ArrayPool<byte>.Shared.Return(buffer);
            var error = NativeMethods.SSL_get_error(_ssl, rc);
            if (error == NativeMethods.SslErrorWantRead)
            {
                OpenSslError.Clear();
                return;
            }

            if (error == NativeMethods.SslErrorZeroReturn)
            {
                OpenSslError.Clear();
                CloseLocked(DtlsCloseReason.PeerClosed, sendCloseNotify: true, ref outcome);
                return;
            }

            FailureDetail = OpenSslError.Drain(out _);
            CloseLocked(DtlsCloseReason.ProtocolError, sendCloseNotify: false, ref outcome);
            return;
        }
    }

    private unsafe DtlsSendResult WriteLocked(ReadOnlySpan<byte> datagram, ref Outcome outcome)
    {
        OpenSslError.Clear();
        int rc;
        fixed (byte* data = datagram)
        {
            rc = NativeMethods.SSL_write(_ssl!, data, datagram.Length);
        }

        if (rc == datagram.Length)
        {
            Interlocked.Add(ref _bytesOut, rc);
            Interlocked.Increment(ref _datagramsOut);
            _lastActivity = _server.Timers.Now;
            return DtlsSendResult.Sent;
        }

        FailureDetail = OpenSslError.Drain(out _);
        CloseLocked(DtlsCloseReason.ProtocolError, sendCloseNotify: false, ref outcome);
        return DtlsSendResult.Closed;
    }

    private void CaptureDetailsLocked()
    {
        var ssl = _ssl!;
        var cipher = NativeMethods.SSL_get_current_cipher(ssl);
        CipherSuite = cipher == nint.Zero ? null : NativeName(NativeMethods.SSL_CIPHER_get_name(cipher));
        ProtocolVersion = NativeName(NativeMethods.SSL_get_version(ssl));
        MaxDatagramSize = (int)NativeMethods.DTLS_get_data_mtu(ssl);
        using var peer = NativeMethods.SSL_get1_peer_certificate(ssl);
        if (!peer.IsInvalid)
        {
            var der = Pem.ToDer(peer);
            using var certificate = X509CertificateLoader.LoadCertificate(der);
            ClientCertificate = new DtlsClientCertificate(certificate.Subject, certificate.Issuer, Convert.ToHexString(SHA256.HashData(der)), certificate.NotAfter.ToUniversalTime());
        }
    }

    /// <summary>
    /// One string per OpenSSL name for the whole process rather than one per session: cipher and protocol names are
    /// constants in OpenSSL's static tables, so their addresses never change or get reused.
    /// </summary>
    private static string? NativeName(nint name) =>
        name == nint.Zero ? null : NativeNames.GetOrAdd(name, static p => System.Runtime.InteropServices.Marshal.PtrToStringUTF8(p) ?? "");

    private void CloseLocked(DtlsCloseReason reason, bool sendCloseNotify, ref Outcome outcome)
    {
        if (_closed)
        {
            return;
        }

        if (_bc is not null)
        {
            BcCloseLocked(sendCloseNotify);
        }

        if (sendCloseNotify && IsEstablished && _ssl is not null && (!_buffersReleased || NativeMethods.SSL_alloc_buffers(_ssl) == 1))
        {
            _buffersReleased = false;
            OpenSslError.Clear();
            NativeMethods.SSL_shutdown(_ssl);
            OpenSslError.Clear();
        }

        CloseOffloadLocked(sendCloseNotify, ref outcome);
        CollectLocked(ref outcome);
        Volatile.Write(ref _closed, true);
        outcome.Closed = reason;
        // The timer entry goes with the session instead of holding it until its due time.
        _server.Timers.Cancel(this);
        // The SSL object goes first: the channel's handle must outlive every callback OpenSSL could make.
        if (_ssl is not null)
        {
            _ssl.Dispose();
            _ssl = null;
            Interlocked.Decrement(ref _server.Counters._openSslObjectsHeld);
        }

        _channel?.Dispose();
        _channel = null;
        _inbox?.Close();
    }

    private void CollectLocked(ref Outcome outcome)
    {
        if (_channel is not null && _channel.OutboundCount > 0)
        {
            _channel.TakeDatagrams(_server.Options.Mtu, outcome.Outbound ??= []);
        }

        if (!_closed && _ssl is not null)
        {
            ReleaseBuffersLocked();
            ScheduleLocked();
        }
        else if (!_closed && _records is not null)
        {
            ScheduleLocked();
        }
    }

    /// <summary>
    /// An established session between datagrams gives its record buffers back (about 35 KiB: a read and a write
    /// buffer of a full record each): SSL_MODE_RELEASE_BUFFERS alone does not free them for DTLS, and every read
    /// allocates them again. OpenSSL refuses (returns 0) while a record is still pending in either buffer, and every
    /// read here runs until OpenSSL asks for more input, so nothing unread is lost. Handshaking sessions keep them.
    /// </summary>
    private void ReleaseBuffersLocked()
    {
        if (IsEstablished && !_buffersReleased && NativeMethods.SSL_free_buffers(_ssl!) == 1)
        {
            _buffersReleased = true;
        }
    }

    /// <summary>
    /// Gives the session its record buffers back before any OpenSSL call that reads or writes a record. False, with
    /// the session closed, when the allocation failed.
    /// </summary>
    private bool RestoreBuffersLocked(ref Outcome outcome)
    {
        if (!_buffersReleased)
        {
            return true;
        }

        OpenSslError.Clear();
        if (NativeMethods.SSL_alloc_buffers(_ssl!) != 1)
        {
            FailureDetail = "record buffers could not be allocated: " + OpenSslError.Drain(out _);
            Interlocked.Increment(ref _server.Counters._internalErrors);
            CloseLocked(DtlsCloseReason.ProtocolError, sendCloseNotify: false, ref outcome);
            return false;
        }

        _buffersReleased = false;
        return true;
    }

    private unsafe void ScheduleLocked()
    {
        var due = long.MaxValue;
        var idle = Tenant?.Settings.IdleTimeout ?? TimeSpan.Zero;
        if (!IsEstablished)
        {
            due = _handshakeDeadline;
        }
        else if (idle > TimeSpan.Zero)
        {
            due = _lastActivity + Ticks(idle);
        }

        var timeval = stackalloc long[2];
        if (_ssl is null)
        {
            due = Math.Min(due, OffloadDueLocked());
        }
        else if (NativeMethods.SSL_ctrl(_ssl, NativeMethods.DtlsCtrlGetTimeout, 0, (nint)timeval) == 1)
        {
            var retransmit = _server.Timers.After(TimeSpan.FromSeconds(timeval[0]) + TimeSpan.FromMicroseconds(timeval[1]));
            due = Math.Min(due, retransmit);
        }

        if (due < _queuedDue)
        {
            _queuedDue = due;
            _server.Timers.Schedule(this, due);
        }
    }

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * _server.Time.TimestampFrequency);

    /// <summary>
    /// The handshake is deferred: whatever OpenSSL writes from now on (the alert that ends it) is not sent,
    /// so the client retransmits its ClientHello and gets a fresh handshake.
    /// </summary>
    internal void Silence()
    {
        _silent = true;
        FailureDetail = "admission deferred";
    }

    private void Complete(ref Outcome outcome)
    {
        if (outcome.Outbound is { Count: > 0 } outbound && !_silent)
        {
            _server.SendDatagrams(outbound, Address, _via);
        }

        if (outcome.Fault is { } fault)
        {
            _server.ReportCallbackFault(this, fault);
        }

        if (outcome.Opened)
        {
            _server.OnHandshakeCompleted(this);
        }

        lock (_deliveryLock)
        {
            if (outcome.Opened && !_closeDelivered && Admitted)
            {
                _openDelivered = true;
                _server.Deliver(this, static (handler, session, _) => handler.OnSessionOpened(session), ReadOnlySpan<byte>.Empty);
            }

            if (outcome.ReceivedCount > 0)
            {
                // Each datagram's buffer goes to the handler with the call, or back to the pool when nobody may have it.
                var deliver = _openDelivered && !_closeDelivered;
                for (var i = 0; i < outcome.ReceivedCount; i++)
                {
                    var datagram = outcome.Received(i);
                    if (deliver)
                    {
                        _server.DeliverDatagram(this, datagram);
                    }
                    else
                    {
                        datagram.Return();
                    }
                }
            }

            if (outcome.Closed is { } reason && !_closeDelivered)
            {
                _closeDelivered = true;
                _server.OnSessionFinished(this, reason);
            }
        }
    }

    private struct Outcome
    {
        public List<byte[]>? Outbound;
        public bool Opened;
        public DtlsCloseReason? Closed;
        public Exception? Fault;

        // A datagram almost always carries one application record: that one needs no list.
        private DtlsDatagram _first;
        private List<DtlsDatagram>? _more;

        private bool _hasFirst;

        public readonly int ReceivedCount => _hasFirst ? 1 + (_more?.Count ?? 0) : 0;

        public void AddReceived(DtlsDatagram datagram)
        {
            if (!_hasFirst)
            {
                _first = datagram;
                _hasFirst = true;
            }
            else
            {
                (_more ??= []).Add(datagram);
            }
        }

        public readonly DtlsDatagram Received(int index) => index == 0 ? _first : _more![index - 1];
    }
}
