using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Platform.Gateway.Dtls.Interop;
using Platform.Gateway.Dtls.Tenants;

namespace Platform.Gateway.Dtls;

/// <summary>
/// A DTLS 1.2 listener on one UDP address and port, served by <see cref="DtlsServerOptions.ReceiveSockets"/> sockets
/// bound with <c>SO_REUSEPORT</c> (<see cref="DtlsReceiveSocket"/>), each read by its own asynchronous loop; the kernel
/// keeps each peer on one socket. Datagrams are demultiplexed by source address over one shared session table; a
/// datagram from an unknown address must be a ClientHello with a valid cookie (checked statelessly by the listener's
/// one cookie layer, <see cref="DtlsCookieSecrets"/>, on the loop that read it, before the engine is chosen) before any
/// per-client state exists, and the new handshake must fit the per-source and unassigned caps. Everything else a session does
/// (handshake steps, decryption) runs on workers (<see cref="DtlsWorkQueue"/>): a loop only copies a datagram into
/// its session's bounded inbox. OpenSSL runs on memory-backed datagram BIOs, so no thread is held per session;
/// retransmission, handshake and idle timers share one timer queue.
/// </summary>
public sealed partial class DtlsServer : IAsyncDisposable
{
    private readonly IDtlsSessionHandler _handler;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<SocketAddress, DtlsSession> _byAddress = new();
    private readonly ConcurrentDictionary<ulong, DtlsSession> _byId = new();
    private readonly DtlsHandshakeLimits _limits;
    private readonly CancellationTokenSource _stopping = new();
    private readonly SslContextHandle _bootstrap;
    private List<DtlsReceiveSocket> _sockets = [];
    private Task<Task>? _disposal;
    private DtlsTenantDirectory _tenants;
    private long _nextId;

    public DtlsServer(DtlsServerOptions options, DtlsTenantDirectory tenants, IDtlsSessionHandler handler, ILogger<DtlsServer>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(tenants);
        ArgumentNullException.ThrowIfNull(handler);
        options.Validate();
        Options = options;
        _tenants = tenants;
        _handler = handler;
        _logger = logger ?? NullLogger<DtlsServer>.Instance;
        Time = options.TimeProvider;
        Timers = new DtlsTimerQueue(Time);
        Cookies = new DtlsCookieSecrets(Time, options.CookieSecretLifetime);
        Workers = new DtlsWorkQueue(options.HandshakeWorkers);
        _limits = new DtlsHandshakeLimits(options.MaxHalfOpenHandshakesPerSource, options.MaxUnassignedHandshakes);
        _bootstrap = SslContextFactory.CreateBootstrapContext();
    }

    /// <summary>The options this listener was created with.</summary>
    public DtlsServerOptions Options { get; }

    /// <summary>Listener-wide counters.</summary>
    public DtlsServerCounters Counters { get; } = new();

    /// <summary>The bound address (with the real port when 0 was asked for).</summary>
    public IPEndPoint LocalEndPoint => _sockets.Count > 0 ? (IPEndPoint)_sockets[0].Socket.LocalEndPoint! : Options.LocalEndPoint;

    /// <summary>
    /// Datagrams read by each of the listener's sockets so far, in binding order: how the kernel spread the peers
    /// over the receive loops.
    /// </summary>
    public IReadOnlyList<long> DatagramsPerSocket => [.. _sockets.Select(s => s.DatagramsIn)];

    /// <summary>The listener's sockets, in binding order.</summary>
    internal IReadOnlyList<DtlsReceiveSocket> ReceiveSocketList => _sockets;

    /// <summary>The tenant snapshot new handshakes resolve against.</summary>
    public DtlsTenantDirectory Tenants => Volatile.Read(ref _tenants);

    /// <summary>Sessions held now, handshaking or established.</summary>
    public int SessionCount => _byId.Count;

    /// <summary>Every session held now.</summary>
    public IEnumerable<DtlsSession> Sessions => _byId.Values;

    /// <summary>Half-open handshakes no tenant has admitted yet (see <see cref="DtlsServerOptions.MaxUnassignedHandshakes"/>).</summary>
    public int UnassignedHandshakes => _limits.Unassigned;

    internal TimeProvider Time { get; }

    internal DtlsTimerQueue Timers { get; }

    internal DtlsCookieSecrets Cookies { get; }

    internal DtlsWorkQueue Workers { get; }

    /// <summary>Binds the sockets and starts their receive loops.</summary>
    public void Start()
    {
        if (_sockets.Count > 0)
        {
            throw new InvalidOperationException("The listener is already started.");
        }

        _sockets = DtlsReceiveSocket.BindAll(this, Options.LocalEndPoint, Options.ReceiveSockets, _bootstrap);
        foreach (var socket in _sockets)
        {
            socket.Start(_stopping.Token);
        }

        Log.Listening(_logger, LocalEndPoint, Options.DedicatedTenantId ?? "(shared)", _sockets.Count);
    }

    /// <summary>
    /// Swaps in a new tenant snapshot for new handshakes (sessions keep what they negotiated) and returns the
    /// previous one, which the caller disposes when it no longer needs it.
    /// </summary>
    public DtlsTenantDirectory UpdateTenants(DtlsTenantDirectory next)
    {
        ArgumentNullException.ThrowIfNull(next);
        return Interlocked.Exchange(ref _tenants, next);
    }

    /// <summary>The session with this id, if it is still held.</summary>
    public bool TryGetSession(ulong id, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out DtlsSession? session) => _byId.TryGetValue(id, out session);

    /// <summary>
    /// Stops reading, ends every session and releases the sockets and OpenSSL objects. Every caller, concurrent or
    /// later, waits for the one disposal: none returns while another is still freeing what it shares. The order:
    /// the receive loops end (no new session or datagram after that), then every session is ended under its own lock
    /// (a worker or BouncyCastle handshake thread in the middle of a step finishes it first and then finds the session
    /// closed; the SSL object is freed once, by the close), then the BouncyCastle handshake threads are joined, the
    /// timer queue stops, and only then the sockets and the bootstrap context go.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        var disposal = new Task<Task>(DisposeCoreAsync);
        var first = Interlocked.CompareExchange(ref _disposal, disposal, null);
        if (first is null)
        {
            disposal.RunSynchronously();
            first = disposal;
        }

        return new ValueTask(first.Unwrap());
    }

    private async Task DisposeCoreAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var socket in _sockets)
        {
            socket.Close();
        }

        foreach (var socket in _sockets)
        {
            try
            {
                await socket.Loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The loop ends by cancellation.
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // A loop that failed has stopped reading all the same: the stop goes on, so that every session, thread
                // and native object is still released; the fault is counted and logged, not thrown at the stopping host.
                Interlocked.Increment(ref Counters._internalErrors);
                Log.ReceiveLoopFault(_logger, socket.Index, ex);
            }
        }

        foreach (var session in _byId.Values)
        {
            session.Terminate(DtlsCloseReason.ServerStopping, sendCloseNotify: false);
        }

        DisposeBc();
        Timers.Dispose();
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }

        _bootstrap.Dispose();
        _stopping.Dispose();
    }

    /// <summary>Sends close_notify to every session (the socket is still open), then disposes.</summary>
    public async Task StopAsync()
    {
        foreach (var session in _byId.Values)
        {
            session.Terminate(DtlsCloseReason.ServerStopping, sendCloseNotify: true);
        }

        await DisposeAsync().ConfigureAwait(false);
    }

    internal void ReportDatagramFault(Exception fault)
    {
        Interlocked.Increment(ref Counters._internalErrors);
        Log.DatagramFault(_logger, fault);
    }

    internal void ReportSendFailure(SocketError error) => Log.SendFailed(_logger, error);

    /// <summary>One datagram read by <paramref name="via"/>'s receive loop (and only there).</summary>
    internal void ProcessDatagram(DtlsReceiveSocket via, SocketAddress address, byte[] buffer, int length)
    {
        Interlocked.Increment(ref Counters._datagramsIn);
        Interlocked.Add(ref Counters._bytesIn, length);
        if (TryRouteConnectionId(address, buffer.AsSpan(0, length)))
        {
            return;
        }

        var kind = DtlsRecords.Classify(buffer.AsSpan(0, length));
        if (_byAddress.TryGetValue(address, out var existing))
        {
            // A fresh epoch-0 ClientHello on an established association is a client that lost its state (RFC 6347
            // 4.2.8): it replaces the old session only once it proves the address with a cookie. Anything else,
            // a retransmitted hello of a handshake in progress included, belongs to the session's engine.
            if (!existing.IsEstablished || kind != DtlsDatagramKind.InitialClientHello)
            {
                if (!existing.Post(buffer.AsSpan(0, length)))
                {
                    Interlocked.Increment(ref Counters._sessionQueueDropped);
                }

                return;
            }
        }
        else
        {
            switch (kind)
            {
                case DtlsDatagramKind.InitialClientHello:
                    break;
                case DtlsDatagramKind.OtherRecord:
                    Interlocked.Increment(ref Counters._unknownSessionDropped);
                    return;
                default:
                    Interlocked.Increment(ref Counters._malformedDropped);
                    return;
            }
        }

        if (PassesCookieLayer(via, address, buffer, length, out var hello))
        {
            StartHandshake(via, address, buffer, length, hello, existing);
        }
    }

    /// <summary>
    /// The listener's one stateless cookie layer, run before the engine choice: a ClientHello that parses and carries
    /// the cookie <see cref="DtlsCookieSecrets"/> makes for its address and fields passes; one without it is answered
    /// with a HelloVerifyRequest from <paramref name="via"/> and forgotten; a malformed one is dropped. Nothing is
    /// stored either way.
    /// </summary>
    private bool PassesCookieLayer(DtlsReceiveSocket via, SocketAddress address, byte[] buffer, int length, out DtlsClientHello hello)
    {
        var datagram = buffer.AsSpan(0, length);
        if (!DtlsClientHello.TryParse(datagram, out hello))
        {
            Interlocked.Increment(ref Counters._malformedDropped);
            return false;
        }

        if (Cookies.Verify(address, datagram, hello))
        {
            return true;
        }

        if (hello.CookieLength > 0)
        {
            // RFC 6347 4.2.1: an invalid cookie is treated like none, with a fresh HelloVerifyRequest.
            Interlocked.Increment(ref Counters._cookieRejected);
        }

        Span<byte> cookie = stackalloc byte[DtlsCookieSecrets.CookieLength];
        Span<byte> helloVerifyRequest = stackalloc byte[DtlsCookieSecrets.HelloVerifyRequestLength];
        Cookies.Generate(address, datagram, hello, cookie);
        DtlsCookieSecrets.WriteHelloVerifyRequest(hello, cookie, helloVerifyRequest);
        Interlocked.Increment(ref Counters._helloVerifyRequestsSent);
        via.Send(helloVerifyRequest, address);
        return false;
    }

    /// <summary>
    /// The engine choice for a cookie-verified ClientHello, then the listener's caps: BouncyCastle when the hello asks for
    /// a feature its tenant enables, else OpenSSL. <paramref name="existing"/> is an established session at the same
    /// address, ended once the new handshake is admitted.
    /// </summary>
    private void StartHandshake(DtlsReceiveSocket via, SocketAddress address, byte[] buffer, int length, in DtlsClientHello hello, DtlsSession? existing)
    {
        if (TryStartBc(address, buffer, length, hello, existing))
        {
            return;
        }

        // Silence on every refusal here: the client retransmits and may succeed later; nothing has been allocated for it.
        if (_stopping.IsCancellationRequested || _byId.Count >= Options.MaxSessions)
        {
            Interlocked.Increment(ref Counters._refused);
            return;
        }

        var slot = _limits.TryBegin(SourceOf(address), out var refusal);
        if (slot is null)
        {
            if (refusal == DtlsHandshakeLimits.Refusal.UnassignedLimit)
            {
                Interlocked.Increment(ref Counters._unassignedDropped);
            }

            Interlocked.Increment(ref Counters._refused);
            return;
        }

        if (!via.Listen(buffer, length, hello.Cookie(buffer.AsSpan(0, length))))
        {
            _limits.Release(slot);
            Interlocked.Increment(ref Counters._helloRejectedByEngine);
            return;
        }

        existing?.Terminate(DtlsCloseReason.Replaced, sendCloseNotify: false);
        CreateSession(via, address, slot, hello.Cookie(buffer.AsSpan(0, length)));
    }

    private void CreateSession(DtlsReceiveSocket via, SocketAddress address, DtlsHandshakeLimits.Slot slot, ReadOnlySpan<byte> verifiedCookie)
    {
        var key = new SocketAddress(address.Family, address.Size);
        address.Buffer.Span[..address.Size].CopyTo(key.Buffer.Span);
        // The listener SSL object now belongs to the session (it holds the buffered ClientHello).
        var (ssl, channel) = via.TakeListener();
        var session = new DtlsSession(this, (ulong)Interlocked.Increment(ref _nextId), key, ssl, channel, slot, verifiedCookie, via);
        _byAddress[key] = session;
        _byId[session.Id] = session;
        Interlocked.Increment(ref Counters._handshakesStarted);
        session.Begin();
    }

    /// <summary>Admission inside OpenSSL's callbacks; a deferral at the ClientHello silences the session.</summary>
    internal bool TryAdmit(DtlsSession session, DtlsTenant tenant, bool atClientHello)
    {
        var outcome = Admit(session, tenant, mayDefer: atClientHello);
        if (outcome == AdmissionOutcome.Deferred)
        {
            session.Silence();
        }

        return outcome == AdmissionOutcome.Accepted;
    }

    /// <summary>
    /// The tenant's half-open caps (taken at once, so concurrent workers cannot overshoot them), then the handler's
    /// decision; a deferral counts only when <paramref name="mayDefer"/>. Anything but acceptance gives the tenant's
    /// half-open count back, and the handshake is unassigned again until it ends or is admitted.
    /// </summary>
    internal AdmissionOutcome Admit(DtlsSession session, DtlsTenant tenant, bool mayDefer)
    {
        if (!_limits.TryAssign(session.HalfOpen, tenant.TenantId, tenant.Settings.MaxHalfOpenHandshakes, tenant.Settings.MaxHalfOpenHandshakesPerClient))
        {
            Interlocked.Increment(ref Counters._refused);
            try
            {
                _handler.OnHalfOpenLimit(session);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Log.HandlerFault(_logger, "OnHalfOpenLimit", ex);
            }

            return AdmissionOutcome.Refused;
        }

        DtlsAdmission decision;
        try
        {
            decision = _handler.Admit(session);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.HandlerFault(_logger, "Admit", ex);
            decision = DtlsAdmission.Refuse;
        }

        if (decision == DtlsAdmission.Defer && mayDefer)
        {
            _limits.Unassign(session.HalfOpen);
            Interlocked.Increment(ref Counters._deferred);
            return AdmissionOutcome.Deferred;
        }

        if (decision != DtlsAdmission.Accept)
        {
            _limits.Unassign(session.HalfOpen);
            Interlocked.Increment(ref Counters._refused);
            return AdmissionOutcome.Refused;
        }

        session.MarkAdmitted();
        return AdmissionOutcome.Accepted;
    }

    internal enum AdmissionOutcome
    {
        Accepted,
        Deferred,
        Refused,
    }

    private void ReleaseHalfOpen(DtlsSession session) => _limits.Release(session.HalfOpen);

    /// <summary>Half-open handshakes counted for a tenant now (after admission, before completion).</summary>
    public int HalfOpenHandshakes(string tenantId) => _limits.ForTenant(tenantId);

    internal void OnHandshakeCompleted(DtlsSession session)
    {
        ReleaseHalfOpen(session);
        if (!session.Admitted)
        {
            // Every open session must belong to an admitted tenant; a handshake that named none is not served.
            session.Terminate(DtlsCloseReason.HandshakeFailed, sendCloseNotify: true);
        }
    }

    internal void OnSessionFinished(DtlsSession session, DtlsCloseReason reason)
    {
        _byAddress.TryRemove(new KeyValuePair<SocketAddress, DtlsSession>(session.Address, session));
        _byId.TryRemove(session.Id, out _);
        ReleaseHalfOpen(session);
        Interlocked.Increment(ref Counters._sessionsClosed);
        Log.SessionClosed(_logger, session.Id, reason, session.FailureDetail);
        if (session.Admitted)
        {
            Deliver(session, static (handler, s, r) => handler.OnSessionClosed(s, (DtlsCloseReason)r[0]), [(byte)reason]);
        }
    }

    internal delegate void Delivery(IDtlsSessionHandler handler, DtlsSession session, ReadOnlySpan<byte> data);

    internal void Deliver(DtlsSession session, Delivery delivery, ReadOnlySpan<byte> data)
    {
        try
        {
            delivery(_handler, session, data);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A faulty handler costs its own session, never the listener.
            Interlocked.Increment(ref Counters._internalErrors);
            Log.HandlerFault(_logger, "delivery", ex);
            if (!session.IsClosed)
            {
                session.Terminate(DtlsCloseReason.ProtocolError, sendCloseNotify: true);
            }
        }
    }

    /// <summary>Hands <paramref name="datagram"/>, and its ownership, to the handler; a faulty handler costs its session.</summary>
    internal void DeliverDatagram(DtlsSession session, DtlsDatagram datagram)
    {
        try
        {
            _handler.OnDatagram(session, datagram);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Interlocked.Increment(ref Counters._internalErrors);
            Log.HandlerFault(_logger, "delivery", ex);
            if (!session.IsClosed)
            {
                session.Terminate(DtlsCloseReason.ProtocolError, sendCloseNotify: true);
            }
        }
    }

    internal void ReportCallbackFault(DtlsSession session, Exception fault)
    {
        Interlocked.Increment(ref Counters._internalErrors);
        Log.CallbackFault(_logger, session.Id, fault);
    }

    /// <summary>A worker caught an exception processing <paramref name="session"/>: the session ends, the listener goes on.</summary>
    internal void ReportWorkerFault(DtlsSession session, Exception fault)
    {
        Interlocked.Increment(ref Counters._internalErrors);
        Log.WorkerFault(_logger, session.Id, fault);
        try
        {
            session.Terminate(DtlsCloseReason.ProtocolError, sendCloseNotify: false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.WorkerFault(_logger, session.Id, ex);
        }
    }

    /// <summary>
    /// Sends from <paramref name="via"/> when given (the socket the session's datagrams arrive on), else from the
    /// first socket: every socket of the listener has the same address and port.
    /// </summary>
    internal void SendDatagrams(List<byte[]> datagrams, SocketAddress to, DtlsReceiveSocket? via = null)
    {
        var socket = via ?? (_sockets.Count > 0 ? _sockets[0] : null);
        socket?.Send(datagrams, to);
    }

    internal static IPEndPoint ToEndPoint(SocketAddress address) =>
        (IPEndPoint)new IPEndPoint(address.Family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0).Create(address);

    private static DtlsSourcePrefix SourceOf(SocketAddress address) => DtlsSourcePrefix.Of(ToEndPoint(address).Address);

    private static partial class Log
    {
        [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "DTLS listener on {EndPoint} for {Tenant}, {Sockets} receive sockets")]
        public static partial void Listening(ILogger logger, IPEndPoint endPoint, string tenant, int sockets);

        [LoggerMessage(EventId = 4002, Level = LogLevel.Debug, Message = "DTLS session {SessionId} closed: {Reason} {Detail}")]
        public static partial void SessionClosed(ILogger logger, ulong sessionId, DtlsCloseReason reason, string? detail);

        [LoggerMessage(EventId = 4003, Level = LogLevel.Error, Message = "DTLS datagram could not be processed")]
        public static partial void DatagramFault(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 4004, Level = LogLevel.Error, Message = "DTLS session handler failed in {Stage}")]
        public static partial void HandlerFault(ILogger logger, string stage, Exception exception);

        [LoggerMessage(EventId = 4005, Level = LogLevel.Error, Message = "OpenSSL callback failed for DTLS session {SessionId}")]
        public static partial void CallbackFault(ILogger logger, ulong sessionId, Exception exception);

        [LoggerMessage(EventId = 4006, Level = LogLevel.Debug, Message = "DTLS datagram send failed: {Error}")]
        public static partial void SendFailed(ILogger logger, SocketError error);

        [LoggerMessage(EventId = 4007, Level = LogLevel.Error, Message = "DTLS session {SessionId} failed on its worker and was ended")]
        public static partial void WorkerFault(ILogger logger, ulong sessionId, Exception exception);

        [LoggerMessage(EventId = 4010, Level = LogLevel.Error, Message = "DTLS receive loop {Index} ended with a fault; the listener's stop went on")]
        public static partial void ReceiveLoopFault(ILogger logger, int index, Exception exception);
    }
}
