using System.Net;
using System.Net.Sockets;
using System.Text;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace Platform.Gateway.Dtls.Tests.Bc;

/// <summary>
/// A DTLS 1.2 PSK client on BouncyCastle (the only client here that speaks RFC 9146 connection IDs), over a UDP socket
/// that can be swapped for one on a new port, as a NAT rebinding would do to a device.
/// </summary>
internal sealed class BcTestClient : IDisposable
{
    private readonly UdpTransport _transport;
    private readonly DtlsTransport _dtls;

    private BcTestClient(UdpTransport transport, DtlsTransport dtls)
    {
        _transport = transport;
        _dtls = dtls;
    }

    public IPEndPoint LocalEndPoint => _transport.LocalEndPoint;

    /// <summary>The last datagram the client sent, as it went on the wire.</summary>
    public byte[] LastSent => _transport.LastSent;

    public static BcTestClient Connect(IPEndPoint server, string serverName, string identity, byte[] psk, bool connectionId, bool heartbeat, BcTlsCrypto? crypto = null, TlsHeartbeat? clientHeartbeat = null, int[]? suites = null)
    {
        var transport = new UdpTransport(server);
        var client = new Client(crypto ?? new BcTlsCrypto(new SecureRandom()), identity, psk, serverName, connectionId, heartbeat, clientHeartbeat, suites);
        try
        {
            var dtls = new DtlsClientProtocol().Connect(client, transport);
            return new BcTestClient(transport, dtls);
        }
        catch
        {
            transport.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The first ClientHello (no cookie) this client would send, offering a connection ID: a transport that keeps the
    /// first datagram and then fails ends the client's handshake right there.
    /// </summary>
    public static byte[] FirstClientHello(string serverName, string identity, byte[] psk)
    {
        var capture = new CaptureTransport();
        var client = new Client(new BcTlsCrypto(new SecureRandom()), identity, psk, serverName, connectionId: true, heartbeat: false, clientHeartbeat: null, suites: null);
        Assert.ThrowsAny<IOException>(() => new DtlsClientProtocol().Connect(client, capture));
        return capture.First ?? throw new InvalidOperationException("the client sent no ClientHello");
    }

    /// <summary>The largest application record the client can send in one datagram.</summary>
    public int SendLimit => _dtls.GetSendLimit();

    public void Send(string text) => _dtls.Send(Encoding.UTF8.GetBytes(text));

    public void Send(byte[] data) => _dtls.Send(data, 0, data.Length);

    /// <summary>
    /// Sends the records of <paramref name="texts"/> in one datagram, one after the other (RFC 6347 section 4.1.1
    /// allows several records per datagram; some stacks coalesce what they write together).
    /// </summary>
    public void SendInOneDatagram(params string[] texts) => SendInOneDatagram(texts, trailing: []);

    /// <summary>As <see cref="SendInOneDatagram(string[])"/>, with <paramref name="trailing"/> bytes after the records.</summary>
    public void SendInOneDatagram(string[] texts, byte[] trailing)
    {
        _transport.Hold();
        try
        {
            foreach (var text in texts)
            {
                Send(text);
            }
        }
        finally
        {
            _transport.Flush(trailing);
        }
    }

    /// <summary>The next application datagram, or null when none came within <paramref name="wait"/>.</summary>
    public string? Receive(TimeSpan wait)
    {
        var buffer = new byte[2048];
        var deadline = DateTime.UtcNow + wait;
        while (DateTime.UtcNow < deadline)
        {
            var length = _dtls.Receive(buffer, 0, buffer.Length, (int)Math.Max(1, (deadline - DateTime.UtcNow).TotalMilliseconds));
            if (length >= 0)
            {
                return Encoding.UTF8.GetString(buffer, 0, length);
            }
        }

        return null;
    }

    /// <summary>
    /// Reads until BouncyCastle closes the transport on the server's close_notify: true then; false when it did not
    /// within <paramref name="wait"/>. Application data read meanwhile is dropped.
    /// </summary>
    public bool ReceiveEnd(TimeSpan wait)
    {
        var buffer = new byte[2048];
        var deadline = DateTime.UtcNow + wait;
        while (!_transport.Closed && DateTime.UtcNow < deadline)
        {
            try
            {
                _dtls.Receive(buffer, 0, buffer.Length, 100);
            }
            catch (IOException) when (_transport.Closed)
            {
                // BouncyCastle reports the closed transport on the read after the alert.
            }
        }

        return _transport.Closed;
    }

    /// <summary>Moves to a new local port: later datagrams leave from there, and replies to the old one are lost.</summary>
    public void Rebind() => _transport.Rebind();

    public void Dispose()
    {
        try
        {
            _dtls.Close();
        }
        catch (IOException)
        {
            // Already closed by the server.
        }

        _transport.Dispose();
    }

    private sealed class Client(BcTlsCrypto crypto, string identity, byte[] psk, string serverName, bool connectionId, bool heartbeat, TlsHeartbeat? clientHeartbeat, int[]? suites)
        : PskTlsClient(crypto, new BasicTlsPskIdentity(identity, psk))
    {
        // The suites to offer, when given (BouncyCastle's PSK client offers no plain-PSK AEAD suite by default).
        protected override int[] GetSupportedCipherSuites() => suites ?? base.GetSupportedCipherSuites();

        public override TlsHeartbeat GetHeartbeat() => clientHeartbeat!;

        // Offering the extension in peer_allowed_to_send mode is a promise to answer the server's requests: BouncyCastle
        // answers them only when the policy says so (its default is peer_not_allowed_to_send).
        public override short GetHeartbeatPolicy() => heartbeat ? HeartbeatMode.peer_allowed_to_send : HeartbeatMode.peer_not_allowed_to_send;

        protected override ProtocolVersion[] GetSupportedVersions() => ProtocolVersion.DTLSv12.Only();

        protected override IList<ServerName> GetSniServerNames() => [new ServerName(NameType.host_name, Encoding.ASCII.GetBytes(serverName))];

        // An empty CID of its own: the client asks the server for one and needs none to receive.
        protected override byte[] GetNewConnectionID() => connectionId ? [] : null!;

        public override IDictionary<int, byte[]> GetClientExtensions()
        {
            var extensions = base.GetClientExtensions();
            if (heartbeat)
            {
                TlsExtensionsUtilities.AddHeartbeatExtension(extensions, new HeartbeatExtension(HeartbeatMode.peer_allowed_to_send));
            }

            return extensions;
        }
    }

    private sealed class CaptureTransport : DatagramTransport
    {
        public byte[]? First { get; private set; }

        public int GetReceiveLimit() => 16 * 1024 + 512;

        public int GetSendLimit() => 1200;

        public int Receive(byte[] buf, int off, int len, int waitMillis) => throw new IOException("capture only");

        public int Receive(Span<byte> buffer, int waitMillis) => throw new IOException("capture only");

        public void Send(byte[] buf, int off, int len) => Send(buf.AsSpan(off, len));

        public void Send(ReadOnlySpan<byte> buffer)
        {
            First ??= buffer.ToArray();
            throw new IOException("ClientHello captured");
        }

        public void Close()
        {
        }
    }

    private sealed class UdpTransport : DatagramTransport, IDisposable
    {
        private readonly IPEndPoint _server;
        private readonly object _holdLock = new();
        private Socket _socket;
        private MemoryStream? _held;

        public UdpTransport(IPEndPoint server)
        {
            _server = server;
            _socket = Open(server);
        }

        public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

        public byte[] LastSent { get; private set; } = [];

        public void Rebind()
        {
            var old = _socket;
            _socket = Open(_server);
            old.Dispose();
        }

        private static Socket Open(IPEndPoint server)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            socket.Connect(server);
            return socket;
        }

        public int GetReceiveLimit() => 16 * 1024 + 512;

        public int GetSendLimit() => 1200;

        public int Receive(byte[] buf, int off, int len, int waitMillis) => Receive(buf.AsSpan(off, len), waitMillis);

        public int Receive(Span<byte> buffer, int waitMillis)
        {
            var socket = _socket;
            try
            {
                if (!socket.Poll(TimeSpan.FromMilliseconds(Math.Max(1, waitMillis)), SelectMode.SelectRead))
                {
                    return -1;
                }

                return socket.Receive(buffer);
            }
            catch (Exception ex) when (ex is ObjectDisposedException or SocketException)
            {
                // Rebound meanwhile, or an ICMP error from the old port: nothing to read.
                return -1;
            }
        }

        public void Send(byte[] buf, int off, int len) => Send(buf.AsSpan(off, len));

        public void Send(ReadOnlySpan<byte> buffer)
        {
            lock (_holdLock)
            {
                if (_held is not null)
                {
                    _held.Write(buffer);
                    return;
                }

                LastSent = buffer.ToArray();
                _socket.Send(buffer);
            }
        }

        /// <summary>Records written from now on wait, to leave together at <see cref="Flush"/>.</summary>
        public void Hold()
        {
            lock (_holdLock)
            {
                _held = new MemoryStream();
            }
        }

        public void Flush(byte[] trailing)
        {
            lock (_holdLock)
            {
                _held!.Write(trailing);
                var held = _held.ToArray();
                _held = null;
                LastSent = held;
                _socket.Send(held);
            }
        }

        /// <summary>BouncyCastle closed the transport (a close_notify or fatal alert read or sent).</summary>
        public bool Closed { get; private set; }

        public void Close() => Closed = true;

        public void Dispose() => _socket.Dispose();
    }
}
