using System.Net;
using System.Net.Sockets;
using System.Text;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace Platform.Gateway.Dtls.Bench;

/// <summary>
/// One DTLS 1.2 ECDHE-PSK client session on BouncyCastle's <see cref="DtlsClientProtocol"/> over its own UDP socket.
/// It offers the RFC 9146 <c>connection_id</c> extension and/or the RFC 6520 <c>heartbeat</c> extension, which is what
/// makes the gateway hand the session to its BouncyCastle engine (for a tenant that enables them). BouncyCastle's
/// DTLS API blocks: <see cref="Connect"/> holds the calling thread until the handshake ends.
/// </summary>
internal sealed class BenchBcClient : IDisposable
{
    private readonly UdpTransport _transport;
    private readonly DtlsTransport _dtls;
    private readonly Client _client;

    private BenchBcClient(UdpTransport transport, DtlsTransport dtls, Client client)
    {
        _transport = transport;
        _dtls = dtls;
        _client = client;
    }

    /// <summary>The negotiated cipher suite's number.</summary>
    public int CipherSuite => _client.NegotiatedSuite;

    /// <summary>Whether the server gave this client a connection ID (RFC 9146).</summary>
    public bool HasConnectionId => _client.ServerConnectionId is { Length: > 0 };

    /// <summary>
    /// A full handshake from a fresh port on <paramref name="source"/>; throws <see cref="IOException"/> (BouncyCastle's
    /// alerts and its handshake timeout are IOExceptions) on failure.
    /// </summary>
    public static BenchBcClient Connect(IPEndPoint server, IPAddress source, string serverName, PskCredentials psk, BenchBcFeatures features, BcTlsCrypto crypto, TimeSpan timeout)
    {
        var transport = new UdpTransport(server, source);
        var client = new Client(crypto, psk, serverName, features, (int)timeout.TotalMilliseconds);
        try
        {
            return new BenchBcClient(transport, new DtlsClientProtocol().Connect(client, transport), client);
        }
        catch (SocketException ex)
        {
            transport.Dispose();
            throw new IOException("socket error: " + ex.SocketErrorCode, ex);
        }
        catch
        {
            transport.Dispose();
            throw;
        }
    }

    /// <summary>Sends close_notify (the gateway ends the session at once).</summary>
    public void Close()
    {
        try
        {
            _dtls.Close();
        }
        catch (IOException ex)
        {
            // The gateway closed it already, or the socket is gone: nothing to tell.
            Console.Error.WriteLine($"bc close: {ex.Message}");
        }
    }

    public void Dispose() => _transport.Dispose();

    private sealed class Client(BcTlsCrypto crypto, PskCredentials psk, string serverName, BenchBcFeatures features, int timeoutMillis)
        : PskTlsClient(crypto, new BasicTlsPskIdentity(psk.Identity, psk.Key))
    {
        public int NegotiatedSuite { get; private set; }

        public byte[]? ServerConnectionId { get; private set; }

        protected override ProtocolVersion[] GetSupportedVersions() => ProtocolVersion.DTLSv12.Only();

        // The same suite and group as the OpenSSL clients of the harness (ECDHE-PSK, P-256 only).
        protected override int[] GetSupportedCipherSuites() => [Org.BouncyCastle.Tls.CipherSuite.TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256];

        protected override IList<int> GetSupportedGroups(IList<int> namedGroupRoles) => [NamedGroup.secp256r1];

        protected override IList<ServerName> GetSniServerNames() => [new ServerName(NameType.host_name, Encoding.ASCII.GetBytes(serverName))];

        // An empty connection ID of its own: the client asks the server for one and needs none to receive.
        protected override byte[] GetNewConnectionID() => features.HasFlag(BenchBcFeatures.ConnectionId) ? [] : null!;

        public override int GetHandshakeTimeoutMillis() => timeoutMillis;

        public override IDictionary<int, byte[]> GetClientExtensions()
        {
            var extensions = base.GetClientExtensions();
            if (features.HasFlag(BenchBcFeatures.Heartbeat))
            {
                // The gateway may send heartbeat requests; this client never does.
                TlsExtensionsUtilities.AddHeartbeatExtension(extensions, new HeartbeatExtension(HeartbeatMode.peer_allowed_to_send));
            }

            return extensions;
        }

        // The server's connection_id extension (RFC 9146): the CID it issued, which this client puts in its records.
        public override void ProcessServerExtensions(IDictionary<int, byte[]> serverExtensions)
        {
            base.ProcessServerExtensions(serverExtensions);
            ServerConnectionId = serverExtensions is null ? null : TlsExtensionsUtilities.GetConnectionIDExtension(serverExtensions);
        }

        public override void NotifyHandshakeComplete()
        {
            base.NotifyHandshakeComplete();
            NegotiatedSuite = m_context.SecurityParameters.CipherSuite;
        }
    }

    private sealed class UdpTransport : DatagramTransport, IDisposable
    {
        private readonly Socket _socket;

        public UdpTransport(IPEndPoint server, IPAddress source)
        {
            _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                _socket.Bind(new IPEndPoint(source, 0));
                _socket.Connect(server);
            }
            catch
            {
                _socket.Dispose();
                throw;
            }
        }

        public int GetReceiveLimit() => 2048;

        public int GetSendLimit() => 1200;

        public int Receive(byte[] buf, int off, int len, int waitMillis) => Receive(buf.AsSpan(off, len), waitMillis);

        public int Receive(Span<byte> buffer, int waitMillis)
        {
            try
            {
                return _socket.Poll(TimeSpan.FromMilliseconds(Math.Max(1, waitMillis)), SelectMode.SelectRead) ? _socket.Receive(buffer) : -1;
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
            {
                // An ICMP port unreachable from an earlier send: nothing to read; BouncyCastle retransmits.
                return -1;
            }
        }

        public void Send(byte[] buf, int off, int len) => Send(buf.AsSpan(off, len));

        public void Send(ReadOnlySpan<byte> buffer)
        {
            try
            {
                _socket.Send(buffer);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
            {
                // As above: the retransmission timer tries again.
            }
        }

        public void Close()
        {
        }

        public void Dispose() => _socket.Dispose();
    }
}

/// <summary>What a <see cref="BenchBcClient"/> offers in its ClientHello.</summary>
[Flags]
internal enum BenchBcFeatures
{
    None = 0,
    ConnectionId = 1,
    Heartbeat = 2,
}
