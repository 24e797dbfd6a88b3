using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Platform.Gateway.Dtls.Interop;

namespace Platform.Gateway.Dtls.Tests.Support;

/// <summary>Settings of a <see cref="DtlsTestClient"/>.</summary>
internal sealed record DtlsClientOptions
{
    public string? ServerName { get; init; }

    public string? PskIdentity { get; init; }

    public byte[]? PskKey { get; init; }

    public string? CertificatePem { get; init; }

    public string? KeyPem { get; init; }

    public string CipherList { get; init; } = "ALL:!aNULL:!eNULL";

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// A DTLS 1.2 client on OpenSSL's client method, driven over a .NET UDP socket. It records every raw datagram it
/// sends and receives so tests can check sizes and replay real handshake traffic.
/// </summary>
internal sealed class DtlsTestClient : IDisposable
{
    private readonly DtlsClientOptions _options;
    private readonly Socket _socket;
    private readonly SslContextHandle _context;
    private readonly SslHandle _ssl;
    private readonly DatagramChannel _channel;
    private readonly byte[] _receiveBuffer = new byte[65536];

    private unsafe DtlsTestClient(IPEndPoint server, DtlsClientOptions options)
    {
        _options = options;
        _socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _socket.Connect(server);
        _context = SslContextFactory.CreateClientContext(options.CipherList);
        _ssl = OpenSslError.CheckHandle(NativeMethods.SSL_new(_context), "SSL_new");
        _channel = new DatagramChannel { Owner = this };
        _channel.AttachTo(_ssl);
        NativeMethods.SSL_set_connect_state(_ssl);
        NativeMethods.SSL_ctrl(_ssl, NativeMethods.SslCtrlSetMtu, 1200, nint.Zero);
        if (options.ServerName is { } name)
        {
            var bytes = Encoding.ASCII.GetBytes(name + "\0");
            fixed (byte* p = bytes)
            {
                NativeMethods.SSL_ctrl(_ssl, NativeMethods.SslCtrlSetTlsextHostname, 0, (nint)p);
            }
        }

        if (options.PskIdentity is not null)
        {
            NativeMethods.SSL_set_psk_client_callback(_ssl, &PskCallback);
        }

        if (options.CertificatePem is { } certificatePem)
        {
            var chain = Pem.ReadCertificates(certificatePem);
            OpenSslError.ThrowIf(NativeMethods.SSL_use_certificate(_ssl, chain[0]) != 1, "SSL_use_certificate");
            chain.ForEach(c => c.Dispose());
            using var key = Pem.ReadPrivateKey(options.KeyPem!);
            OpenSslError.ThrowIf(NativeMethods.SSL_use_PrivateKey(_ssl, key) != 1, "SSL_use_PrivateKey");
        }
    }

    public List<byte[]> Sent { get; } = [];

    public List<byte[]> ReceivedRaw { get; } = [];

    public string? ServerCertificateSubject { get; private set; }

    public string? Cipher { get; private set; }

    public bool PeerClosed { get; private set; }

    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    public static async Task<DtlsTestClient> ConnectAsync(IPEndPoint server, DtlsClientOptions options)
    {
        var client = new DtlsTestClient(server, options);
        try
        {
            await client.HandshakeAsync();
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    public async Task HandshakeAsync()
    {
        var deadline = DateTime.UtcNow + _options.Timeout;
        while (true)
        {
            OpenSslError.Clear();
            var rc = NativeMethods.SSL_do_handshake(_ssl);
            Flush();
            if (rc == 1)
            {
                var cipher = NativeMethods.SSL_get_current_cipher(_ssl);
                Cipher = Marshal.PtrToStringUTF8(NativeMethods.SSL_CIPHER_get_name(cipher));
                using var peer = NativeMethods.SSL_get1_peer_certificate(_ssl);
                if (!peer.IsInvalid)
                {
                    using var certificate = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(Pem.ToDer(peer));
                    ServerCertificateSubject = certificate.Subject;
                }

                return;
            }

            var error = NativeMethods.SSL_get_error(_ssl, rc);
            if (error != NativeMethods.SslErrorWantRead)
            {
                throw new DtlsClientException("handshake failed: " + OpenSslError.Drain(out _));
            }

            if (!await PumpAsync(deadline))
            {
                throw new TimeoutException("handshake timed out");
            }
        }
    }

    public unsafe void Send(byte[] data)
    {
        OpenSslError.Clear();
        fixed (byte* p = data)
        {
            OpenSslError.ThrowIf(NativeMethods.SSL_write(_ssl, p, data.Length) != data.Length, "SSL_write");
        }

        Flush();
    }

    /// <summary>The next application datagram; null when the server sent close_notify or nothing came in time.</summary>
    public async Task<byte[]?> ReceiveAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? _options.Timeout);
        var buffer = new byte[20000];
        while (true)
        {
            var rc = Read(buffer);
            Flush();
            if (rc > 0)
            {
                return buffer[..rc];
            }

            var error = NativeMethods.SSL_get_error(_ssl, rc);
            if (error == NativeMethods.SslErrorZeroReturn)
            {
                PeerClosed = true;
                return null;
            }

            if (error != NativeMethods.SslErrorWantRead)
            {
                throw new DtlsClientException("read failed: " + OpenSslError.Drain(out _));
            }

            if (!await PumpAsync(deadline))
            {
                return null;
            }
        }
    }

    public void SendCloseNotify()
    {
        OpenSslError.Clear();
        NativeMethods.SSL_shutdown(_ssl);
        OpenSslError.Clear();
        Flush();
    }

    public void SendRaw(byte[] datagram) => _socket.Send(datagram);

    /// <summary>Waits for one datagram (or a DTLS retransmission timeout) and feeds it to OpenSSL.</summary>
    private async Task<bool> PumpAsync(DateTime deadline)
    {
        var remaining = deadline - DateTime.UtcNow;
        if (remaining <= TimeSpan.Zero)
        {
            return false;
        }

        var wait = remaining;
        if (RetransmitIn() is { } retransmit && retransmit < wait)
        {
            wait = retransmit;
        }

        using var cts = new CancellationTokenSource(wait + TimeSpan.FromMilliseconds(5));
        try
        {
            var length = await _socket.ReceiveAsync(_receiveBuffer, SocketFlags.None, cts.Token);
            ReceivedRaw.Add(_receiveBuffer[..length]);
            _channel.SetInbound(_receiveBuffer, length);
        }
        catch (OperationCanceledException)
        {
            OpenSslError.Clear();
            NativeMethods.SSL_ctrl(_ssl, NativeMethods.DtlsCtrlHandleTimeout, 0, nint.Zero);
            Flush();
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return false;
        }

        return true;
    }

    private unsafe int Read(byte[] buffer)
    {
        OpenSslError.Clear();
        fixed (byte* p = buffer)
        {
            return NativeMethods.SSL_read(_ssl, p, buffer.Length);
        }
    }

    private unsafe TimeSpan? RetransmitIn()
    {
        var timeval = stackalloc long[2];
        return NativeMethods.SSL_ctrl(_ssl, NativeMethods.DtlsCtrlGetTimeout, 0, (nint)timeval) == 1
            ? TimeSpan.FromSeconds(timeval[0]) + TimeSpan.FromMicroseconds(timeval[1])
            : null;
    }

    private void Flush()
    {
        var datagrams = new List<byte[]>();
        _channel.TakeDatagrams(1400, datagrams);
        foreach (var datagram in datagrams)
        {
            Sent.Add(datagram);
            _socket.Send(datagram);
        }
    }

    public void Dispose()
    {
        _ssl.Dispose();
        _channel.Dispose();
        _context.Dispose();
        _socket.Dispose();
    }

    [UnmanagedCallersOnly]
    private static unsafe uint PskCallback(nint ssl, byte* hint, byte* identity, uint maxIdentity, byte* psk, uint maxPsk)
    {
        if (DatagramChannel.FromSsl(ssl)?.Owner is not DtlsTestClient client || client._options.PskIdentity is null || client._options.PskKey is null)
        {
            return 0;
        }

        var name = Encoding.UTF8.GetBytes(client._options.PskIdentity);
        if (name.Length + 1 > maxIdentity || client._options.PskKey.Length > maxPsk)
        {
            return 0;
        }

        name.CopyTo(new Span<byte>(identity, name.Length));
        identity[name.Length] = 0;
        client._options.PskKey.CopyTo(new Span<byte>(psk, client._options.PskKey.Length));
        return (uint)client._options.PskKey.Length;
    }
}

internal sealed class DtlsClientException(string message) : Exception(message);
