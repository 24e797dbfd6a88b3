using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;
using Platform.Contracts.Config;
using Platform.Gateway.Dtls.Bc;
using Platform.Gateway.Dtls.Tenants;

namespace Platform.Gateway.Dtls;

/// <summary>
/// The listener's second engine. A ClientHello that offers a heartbeat, a connection ID or a client raw public key, for
/// a tenant (named by SNI or the dedicated port) that enables it, is served by BouncyCastle; every other ClientHello
/// goes to OpenSSL. Both sit behind the listener's one stateless cookie layer (<see cref="DtlsCookieSecrets"/>): the
/// engine is chosen only for a hello whose cookie that layer has verified, and neither engine runs a cookie exchange
/// of its own (see <see cref="BcRequestReader"/>). Records with a connection ID are routed by it, whatever their
/// source address.
/// </summary>
public sealed partial class DtlsServer
{
    private const byte ContentTypeTls12Cid = 25;

    private readonly Lock _bcLock = new();
    private BcSharedCrypto? _bcCrypto;
    private BcHandshakePool? _bcPool;
    private readonly BcRequestReader _bcRequests = new();

    /// <summary>Counters of the BouncyCastle engine.</summary>
    public DtlsBcCounters BcCounters { get; } = new();

    internal BcConnectionIds ConnectionIds { get; } = new();

    internal BcTlsCrypto BcCrypto
    {
        get
        {
            lock (_bcLock)
            {
                return _bcCrypto ??= new BcSharedCrypto();
            }
        }
    }

    internal BcHandshakePool BcPool
    {
        get
        {
            ObjectDisposedException.ThrowIf(!TryGetBcPool(out var pool), this);
            return pool;
        }
    }

    /// <summary>
    /// The BouncyCastle handshake pool, made on first use; false once the listener is stopping (a receive loop may be
    /// in the middle of a ClientHello when the stop begins: that hello is refused, not failed).
    /// </summary>
    private bool TryGetBcPool([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out BcHandshakePool? pool)
    {
        lock (_bcLock)
        {
            if (_stopping.IsCancellationRequested)
            {
                pool = null;
                return false;
            }

            pool = _bcPool ??= new BcHandshakePool(Options.BcHandshakeThreads, Options.BcMaxHandshakes, Options.BcMaxHandshakesPerSource);
            return true;
        }
    }

    /// <summary>BouncyCastle handshakes in progress or waiting for a thread.</summary>
    public int BcHandshakes => _bcPool?.Active ?? 0;

    /// <summary>A record with a connection ID (content type 25): routed by its CID whatever its source address.</summary>
    private bool TryRouteConnectionId(SocketAddress address, ReadOnlySpan<byte> datagram)
    {
        if (datagram.Length == 0 || datagram[0] != ContentTypeTls12Cid)
        {
            return false;
        }

        if (!ConnectionIds.TryRoute(datagram, out var owner))
        {
            Interlocked.Increment(ref BcCounters._unknownConnectionIdDropped);
        }
        else if (!owner.PostFrom(datagram, CopyOf(address, owner.Address)))
        {
            Interlocked.Increment(ref Counters._sessionQueueDropped);
        }

        return true;
    }

    /// <summary>
    /// The engine choice for a ClientHello whose cookie the cookie layer verified: true when it asks for a feature its
    /// tenant enables and was handled here (a BouncyCastle session started, or the hello dropped by a cap).
    /// <paramref name="existing"/> is an established session at the same address, which a new handshake replaces.
    /// </summary>
    private bool TryStartBc(SocketAddress address, byte[] buffer, int length, in DtlsClientHello parsed, DtlsSession? existing)
    {
        var datagram = buffer.AsSpan(0, length);
        if (!DtlsClientHelloFeatures.TryRead(datagram, parsed, out var hello) || !hello.OffersAny
            || !TryResolveBcTenant(hello, out var tenant, out var certificateIndex))
        {
            return false;
        }

        var request = _bcRequests.Read([], buffer, length, parsed.Cookie(datagram));
        if (request is null)
        {
            // BouncyCastle could not parse a hello our own parser accepted.
            Interlocked.Increment(ref Counters._helloRejectedByEngine);
            return true;
        }

        if (_byId.Count >= Options.MaxSessions || !TryGetBcPool(out var pool))
        {
            Interlocked.Increment(ref Counters._refused);
            return true;
        }

        var source = SourceOf(address);
        if (!pool.TryReserve(source))
        {
            Interlocked.Increment(ref BcCounters._handshakeCapDropped);
            Interlocked.Increment(ref Counters._refused);
            return true;
        }

        var slot = _limits.TryBegin(source, out var refusal);
        if (slot is null)
        {
            pool.Release(source);
            if (refusal == DtlsHandshakeLimits.Refusal.UnassignedLimit)
            {
                Interlocked.Increment(ref Counters._unassignedDropped);
            }

            Interlocked.Increment(ref Counters._refused);
            return true;
        }

        existing?.Terminate(DtlsCloseReason.Replaced, sendCloseNotify: false);
        var key = CopyOf(address, null);
        var session = new DtlsSession(this, (ulong)Interlocked.Increment(ref _nextId), key, slot, tenant, certificateIndex, hello, request);
        _byAddress[key] = session;
        _byId[session.Id] = session;
        // The engine's count first, then the total: a reader of both (DtlsMetrics) never sees a total ahead of it.
        Interlocked.Increment(ref BcCounters._handshakesStarted);
        Interlocked.Increment(ref Counters._handshakesStarted);
        session.Begin();
        return true;
    }

    /// <summary>
    /// The tenant of a feature-asking ClientHello, when it enables a feature offered. A tenant that asks X.509 client
    /// certificates stays on OpenSSL (which checks them against its client CAs), as does a ClientHello that names no tenant.
    /// </summary>
    private bool TryResolveBcTenant(DtlsClientHelloFeatures hello, out DtlsTenant tenant, out int certificateIndex)
    {
        var directory = Tenants;
        certificateIndex = 0;
        DtlsTenant? found;
        if (Options.DedicatedTenantId is { } dedicated)
        {
            found = directory.FindById(dedicated);
            if (found is not null && hello.ServerName is { } name)
            {
                certificateIndex = found.CertificateIndexFor(name);
            }
        }
        else if (hello.ServerName is null || !directory.TryResolveHost(hello.ServerName, out found, out certificateIndex))
        {
            found = null;
        }

        tenant = found!;
        if (found is null || found.Settings.ClientCertificates != ClientCertificateModes.None)
        {
            return false;
        }

        var features = found.Settings.Features;
        return (hello.Heartbeat && features.HeartbeatInterval > TimeSpan.Zero)
            || (hello.ConnectionId && features.ConnectionIdLength > 0)
            || (hello.ClientRawPublicKey && features.RawPublicKeys);
    }

    /// <summary>
    /// Sends one datagram to <paramref name="to"/> from the listener's first receive socket (every one of them is bound to
    /// the same address and port, so the peer sees the same source whichever sends).
    /// </summary>
    internal void SendDatagram(ReadOnlySpan<byte> datagram, SocketAddress to)
    {
        var socket = _sockets.Count > 0 ? _sockets[0].Socket : null;
        if (socket is null)
        {
            return;
        }

        try
        {
            socket.SendTo(datagram, SocketFlags.None, to);
            Interlocked.Increment(ref Counters._datagramsOut);
            Interlocked.Add(ref Counters._bytesOut, datagram.Length);
        }
        catch (SocketException ex)
        {
            Interlocked.Increment(ref Counters._socketErrors);
            Log.SendFailed(_logger, ex.SocketErrorCode);
        }
        catch (ObjectDisposedException)
        {
            // The listener is stopping.
        }
    }

    /// <summary>A BouncyCastle handshake ended (either way): its place on the handshake threads goes back.</summary>
    internal void BcHandshakeEnded(DtlsSession session) => _bcPool?.Release(SourceOf(session.StartAddress ?? session.Address));

    /// <summary>Moves a CID session to the address its newest authenticated record came from.</summary>
    internal void BcMoveSession(DtlsSession session, SocketAddress to)
    {
        var previous = session.Address;
        var key = CopyOf(to, null);
        _byAddress.TryRemove(new KeyValuePair<SocketAddress, DtlsSession>(previous, session));
        // Another session already at that address keeps it: this one is reached by its CID anyway.
        _byAddress.TryAdd(key, session);
        session.SetAddress(key);
        Interlocked.Increment(ref BcCounters._addressChanges);
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            var from = ToEndPoint(previous);
            BcLog.AddressChanged(_logger, session.Id, from, session.RemoteEndPoint);
        }
    }

    internal void BcAddressChanged(DtlsSession session)
    {
        if (session.Admitted)
        {
            Deliver(session, static (handler, s, _) => handler.OnAddressChanged(s), ReadOnlySpan<byte>.Empty);
        }
    }

    private void DisposeBc()
    {
        BcHandshakePool? pool;
        lock (_bcLock)
        {
            pool = _bcPool;
        }

        pool?.Dispose();
    }

    /// <summary>A stable copy of the receive loop's (reused) address, or <paramref name="same"/> when equal to it.</summary>
    private static SocketAddress CopyOf(SocketAddress address, SocketAddress? same)
    {
        if (same is not null && same.Equals(address))
        {
            return same;
        }

        var copy = new SocketAddress(address.Family, address.Size);
        address.Buffer.Span[..address.Size].CopyTo(copy.Buffer.Span);
        return copy;
    }

    private static partial class BcLog
    {
        [LoggerMessage(EventId = 4050, Level = LogLevel.Debug, Message = "DTLS session {SessionId} moved from {From} to {To} (connection ID)")]
        public static partial void AddressChanged(ILogger logger, ulong sessionId, System.Net.IPEndPoint from, System.Net.IPEndPoint to);
    }
}

/// <summary>Counters of a listener's BouncyCastle engine.</summary>
public sealed class DtlsBcCounters
{
    internal long _handshakesStarted;
    internal long _handshakesCompleted;
    internal long _handshakesFailed;
    internal long _handshakesTimedOut;
    internal long _handshakeCapDropped;
    internal long _unknownConnectionIdDropped;
    internal long _addressChanges;
    internal long _heartbeatTimeouts;
    internal long _handshakeDatagramsRejected;

    /// <summary>Handshake datagrams dropped before BouncyCastle saw them (fragments out of range, oversized messages, too many records).</summary>
    public long HandshakeDatagramsRejected => Interlocked.Read(ref _handshakeDatagramsRejected);

    /// <summary>Cookie-verified handshakes given to BouncyCastle (counted here first, then in <see cref="DtlsServerCounters.HandshakesStarted"/>).</summary>
    public long HandshakesStarted => Interlocked.Read(ref _handshakesStarted);

    /// <summary>BouncyCastle handshakes completed (counted here first, then in <see cref="DtlsServerCounters.HandshakesCompleted"/>).</summary>
    public long HandshakesCompleted => Interlocked.Read(ref _handshakesCompleted);

    /// <summary>BouncyCastle handshakes that failed (counted here first, then in <see cref="DtlsServerCounters.HandshakesFailed"/>).</summary>
    public long HandshakesFailed => Interlocked.Read(ref _handshakesFailed);

    /// <summary>BouncyCastle handshakes that timed out (counted here first, then in <see cref="DtlsServerCounters.HandshakesTimedOut"/>).</summary>
    public long HandshakesTimedOut => Interlocked.Read(ref _handshakesTimedOut);

    /// <summary>Cookie-verified ClientHellos dropped by the BouncyCastle handshake caps (listener-wide or per source).</summary>
    public long HandshakeCapDropped => Interlocked.Read(ref _handshakeCapDropped);

    /// <summary>Records with a connection ID no session holds (or too short for the CID they announce), dropped.</summary>
    public long UnknownConnectionIdDropped => Interlocked.Read(ref _unknownConnectionIdDropped);

    /// <summary>Sessions moved to a new client address by an authenticated, newest CID record.</summary>
    public long AddressChanges => Interlocked.Read(ref _addressChanges);

    /// <summary>Sessions ended because a heartbeat request went unanswered.</summary>
    public long HeartbeatTimeouts => Interlocked.Read(ref _heartbeatTimeouts);
}
