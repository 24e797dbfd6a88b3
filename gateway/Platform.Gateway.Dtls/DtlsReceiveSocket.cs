using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Platform.Gateway.Dtls.Interop;

namespace Platform.Gateway.Dtls;

/// <summary>
/// One of a listener's UDP sockets, all bound to the same address and port with <c>SO_REUSEPORT</c>, each with its
/// own receive loop (which runs the listener's stateless cookie layer) and its own listener SSL object, through which
/// cookie-verified ClientHellos reach OpenSSL. The kernel picks the socket of a
/// datagram by a hash of its 4-tuple, so one peer's datagrams always reach the same socket and loop (their order is
/// kept) while different peers spread over the sockets and so over the cores. The cookie secret, the session tables
/// and the caps belong to the <see cref="DtlsServer"/> and are shared by every socket: a cookie made on one socket
/// verifies on any. A session sends from the socket its first datagram arrived on; every socket has the same local
/// address and port, so the peer cannot tell them apart.
/// </summary>
internal sealed class DtlsReceiveSocket : IDisposable
{
    private const int SolSocket = 1;
    private const int SoReusePort = 15;

    /// <summary>How often a receive thread blocked in its receive call wakes to see whether the listener is stopping.</summary>
    private static readonly TimeSpan BlockingWakeup = TimeSpan.FromMilliseconds(500);

    private readonly DtlsServer _server;
    private readonly SslContextHandle _bootstrap;
    private readonly BioAddrHandle _listenPeer;
    private readonly ListenerTarget _listenerTarget;
    private SslHandle? _listenSsl;
    private DatagramChannel? _listenChannel;
    private long _datagramsIn;

    private DtlsReceiveSocket(DtlsServer server, Socket socket, int index, SslContextHandle bootstrap)
    {
        _server = server;
        Socket = socket;
        Index = index;
        _bootstrap = bootstrap;
        _listenPeer = OpenSslError.CheckHandle(NativeMethods.BIO_ADDR_new(), "BIO_ADDR_new");
        _listenerTarget = new ListenerTarget();
        try
        {
            CreateListenerSsl();
        }
        catch
        {
            _listenPeer.Dispose();
            throw;
        }
    }

    public Socket Socket { get; }

    /// <summary>Position among the listener's sockets (0 for the first bound).</summary>
    public int Index { get; }

    /// <summary>Datagrams this socket received (the kernel's share of the listener's traffic for it).</summary>
    public long DatagramsIn => Interlocked.Read(ref _datagramsIn);

    /// <summary>The receive loop; done once the socket is closed.</summary>
    public Task Loop { get; private set; } = Task.CompletedTask;

    /// <summary>
    /// Binds <paramref name="count"/> sockets to <paramref name="endPoint"/>. With more than one, each has
    /// <c>SO_REUSEPORT</c> set before binding. Such a group must not join a port someone else holds: Linux would let
    /// another group of the same user share it (and split its traffic) and, for port 0, may even pick such a port.
    /// So a plain socket binds first, which fails on a port in any use and otherwise gets the port (a fresh one for
    /// port 0); it is closed and the group binds to exactly that port. A port 0 taken in that gap is tried again.
    /// </summary>
    public static List<DtlsReceiveSocket> BindAll(DtlsServer server, IPEndPoint endPoint, int count, SslContextHandle bootstrap)
    {
        for (var attempt = 1; ; attempt++)
        {
            var target = endPoint;
            if (count > 1)
            {
                using var probe = BindOne(endPoint, reusePort: false);
                target = (IPEndPoint)probe.LocalEndPoint!;
            }

            try
            {
                return BindGroup(server, target, count, bootstrap);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse && endPoint.Port == 0 && attempt < 5)
            {
                // Another socket took the probed port between the probe and the group: pick another one.
            }
        }
    }

    private static List<DtlsReceiveSocket> BindGroup(DtlsServer server, IPEndPoint endPoint, int count, SslContextHandle bootstrap)
    {
        var bound = new List<DtlsReceiveSocket>(count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                var socket = BindOne(endPoint, reusePort: count > 1);
                try
                {
                    bound.Add(new DtlsReceiveSocket(server, socket, i, bootstrap));
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            }

            return bound;
        }
        catch
        {
            foreach (var socket in bound)
            {
                socket.Dispose();
            }

            throw;
        }
    }

    private static Socket BindOne(IPEndPoint endPoint, bool reusePort)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }

            if (reusePort)
            {
                if (!OperatingSystem.IsLinux())
                {
                    throw new PlatformNotSupportedException("More than one DTLS receive socket per listener needs Linux's SO_REUSEPORT; set ReceiveSockets to 1.");
                }

                socket.SetRawSocketOption(SolSocket, SoReusePort, BitConverter.GetBytes(1));
            }

            socket.Bind(endPoint);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Starts the receive loop: on a thread of its own that blocks in the receive call when
    /// <see cref="DtlsServerOptions.ReceiveThreads"/> is set, else as an asynchronous loop on the thread pool.
    /// </summary>
    public void Start(CancellationToken stopping)
    {
        if (!_server.Options.ReceiveThreads)
        {
            Loop = Task.Run(() => ReceiveLoopAsync(stopping), CancellationToken.None);
            return;
        }

        var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                ReceiveLoopBlocking(stopping);
                ended.SetResult();
            }
            catch (Exception ex)
            {
                ended.SetException(ex);
            }
        })
        {
            IsBackground = true,
            Name = $"DTLS receive {Index}",
        };
        Loop = ended.Task;
        thread.Start();
    }

    private async Task ReceiveLoopAsync(CancellationToken token)
    {
        var socket = Socket;
        var buffer = GC.AllocateUninitializedArray<byte>(_server.Options.MaxPacketSize);
        var address = new SocketAddress(socket.AddressFamily);
        while (!token.IsCancellationRequested)
        {
            int length;
            try
            {
                length = await socket.ReceiveFromAsync(buffer, SocketFlags.None, address, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex) when (IsTransient(ex.SocketErrorCode))
            {
                Interlocked.Increment(ref _server.Counters._socketErrors);
                continue;
            }

            Process(address, buffer, length);
        }
    }

    /// <summary>
    /// The receive loop on a dedicated thread: one blocking receive call per datagram, so a datagram costs no
    /// readiness notification, no failed non-blocking read before it and no hand-over from the socket engine's
    /// thread to a pool thread. The receive timeout wakes the thread now and then to see the stop token, should a
    /// close not interrupt the call.
    /// </summary>
    private void ReceiveLoopBlocking(CancellationToken token)
    {
        var socket = Socket;
        var buffer = GC.AllocateUninitializedArray<byte>(_server.Options.MaxPacketSize);
        var address = new SocketAddress(socket.AddressFamily);
        try
        {
            socket.ReceiveTimeout = (int)BlockingWakeup.TotalMilliseconds;
        }
        catch (ObjectDisposedException)
        {
            return;
        }

        while (!token.IsCancellationRequested)
        {
            int length;
            try
            {
                length = socket.ReceiveFrom(buffer, SocketFlags.None, address);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode is SocketError.TimedOut or SocketError.WouldBlock)
            {
                // The periodic wakeup: nothing arrived.
                continue;
            }
            catch (SocketException ex) when (IsTransient(ex.SocketErrorCode))
            {
                Interlocked.Increment(ref _server.Counters._socketErrors);
                continue;
            }
            catch (SocketException) when (token.IsCancellationRequested || !socket.IsBound || socket.SafeHandle.IsClosed)
            {
                // The close that ends the listener interrupted the call.
                return;
            }

            Process(address, buffer, length);
        }
    }

    /// <summary>An ICMP error from an earlier send, or a datagram larger than MaxPacketSize: neither ends the listener.</summary>
    private static bool IsTransient(SocketError error) =>
        error is SocketError.ConnectionReset or SocketError.MessageSize or SocketError.NetworkReset or SocketError.HostUnreachable or SocketError.NetworkUnreachable;

    private void Process(SocketAddress address, byte[] buffer, int length)
    {
        Interlocked.Increment(ref _datagramsIn);
        try
        {
            _server.ProcessDatagram(this, address, buffer, length);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // One client's datagram never takes the listener down; the listener SSL is rebuilt in case it was mid-use.
            _server.ReportDatagramFault(ex);
            RecreateListenerSsl();
        }
    }

    /// <summary>
    /// Gives a ClientHello whose cookie the listener's cookie layer has verified (<paramref name="verifiedCookie"/>) to
    /// OpenSSL through DTLSv1_listen on this socket's listener SSL object. OpenSSL's cookie callbacks accept exactly that
    /// cookie and generate none, so OpenSSL never runs a cookie exchange of its own. True when OpenSSL accepted the
    /// hello; the listener SSL object then holds it (see <see cref="TakeListener"/>). Runs on this socket's receive loop only.
    /// </summary>
    public bool Listen(byte[] buffer, int length, ReadOnlySpan<byte> verifiedCookie)
    {
        var ssl = _listenSsl!;
        var channel = _listenChannel!;
        _listenerTarget.SetVerified(verifiedCookie);
        channel.SetInbound(buffer, length);
        OpenSslError.Clear();
        var rc = NativeMethods.DTLSv1_listen(ssl, _listenPeer);
        channel.ClearInbound();
        _listenerTarget.ClearVerified();
        var wrote = channel.OutboundCount > 0;
        if (wrote)
        {
            // DTLSv1_listen writes only a HelloVerifyRequest, which the callbacks rule out: never sent, and the hello is refused.
            channel.TakeDatagrams(_server.Options.Mtu, []);
        }

        OpenSslError.Clear();
        return rc > 0 && !wrote;
    }

    /// <summary>
    /// Hands the listener SSL object, which holds the ClientHello that just passed <see cref="Listen"/>, to a
    /// new session, and makes a fresh one for the next ClientHello.
    /// </summary>
    public (SslHandle Ssl, DatagramChannel Channel) TakeListener()
    {
        var taken = (_listenSsl!, _listenChannel!);
        _listenSsl = null;
        _listenChannel = null;
        CreateListenerSsl();
        return taken;
    }

    /// <summary>Sends each datagram to <paramref name="to"/> from this socket; a failed send is counted, never thrown.</summary>
    public void Send(List<byte[]> datagrams, SocketAddress to)
    {
        foreach (var datagram in datagrams)
        {
            if (!Send(datagram, to))
            {
                return;
            }
        }
    }

    /// <summary>Sends one datagram; false once the socket is closed. A failed send is counted, never thrown.</summary>
    public bool Send(ReadOnlySpan<byte> datagram, SocketAddress to)
    {
        try
        {
            Socket.SendTo(datagram, SocketFlags.None, to);
            Interlocked.Increment(ref _server.Counters._datagramsOut);
            Interlocked.Add(ref _server.Counters._bytesOut, datagram.Length);
        }
        catch (SocketException ex)
        {
            Interlocked.Increment(ref _server.Counters._socketErrors);
            _server.ReportSendFailure(ex.SocketErrorCode);
        }
        catch (ObjectDisposedException)
        {
            return false;
        }

        return true;
    }

    /// <summary>Closes the socket, which ends the receive loop.</summary>
    public void Close() => Socket.Close();

    /// <summary>Call after <see cref="Loop"/> has ended: the listener SSL object is used only there.</summary>
    public void Dispose()
    {
        Socket.Dispose();
        _listenSsl?.Dispose();
        _listenChannel?.Dispose();
        _listenSsl = null;
        _listenChannel = null;
        _listenPeer.Dispose();
    }

    private void CreateListenerSsl()
    {
        OpenSslError.Clear();
        var ssl = OpenSslError.CheckHandle(NativeMethods.SSL_new(_bootstrap), "SSL_new");
        var channel = new DatagramChannel { Owner = _listenerTarget };
        try
        {
            channel.AttachTo(ssl);
            var mtu = _server.Options.Mtu;
            OpenSslError.ThrowIf(NativeMethods.SSL_ctrl(ssl, NativeMethods.SslCtrlSetMtu, mtu, nint.Zero) != mtu, "SSL_set_mtu");
        }
        catch
        {
            ssl.Dispose();
            channel.Dispose();
            throw;
        }

        _listenSsl = ssl;
        _listenChannel = channel;
    }

    private void RecreateListenerSsl()
    {
        _listenSsl?.Dispose();
        _listenChannel?.Dispose();
        _listenSsl = null;
        _listenChannel = null;
        CreateListenerSsl();
    }

    /// <summary>
    /// Callback target of a listener SSL object: only the cookie callbacks run before a session exists. The cookie
    /// accepted is the one the listener's cookie layer verified for the hello being listened to; none is ever generated.
    /// </summary>
    private sealed class ListenerTarget : ISslCallbackTarget
    {
        private readonly byte[] _verified = new byte[DtlsCookieSecrets.CookieLength];
        private bool _set;

        public void SetVerified(ReadOnlySpan<byte> cookie)
        {
            cookie.CopyTo(_verified);
            _set = cookie.Length == _verified.Length;
        }

        public void ClearVerified() => _set = false;

        public int GenerateCookie(Span<byte> cookie) => 0;

        public bool VerifyCookie(ReadOnlySpan<byte> cookie) => _set && CryptographicOperations.FixedTimeEquals(_verified, cookie);

        public int OnServerName(nint ssl, string? hostName, out int alert)
        {
            alert = SslCallbacks.AlertInternalError;
            return NativeMethods.TlsextErrAlertFatal;
        }

        public int OnPskIdentity(string identity, Span<byte> key) => 0;
    }
}
