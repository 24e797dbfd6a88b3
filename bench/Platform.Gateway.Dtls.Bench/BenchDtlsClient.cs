using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Platform.Gateway.Dtls.Interop;

namespace Platform.Gateway.Dtls.Bench;

/// <summary>A PSK identity as a client presents it (<c>{slug}/{identity}</c>) and its key.</summary>
internal sealed record PskCredentials(string Identity, byte[] Key)
{
    /// <summary>Parses <c>identity:hexkey</c>.</summary>
    public static PskCredentials Parse(string value)
    {
        var colon = value.LastIndexOf(':');
        if (colon <= 0)
        {
            throw new ArgumentException($"expected identity:hexkey, got '{value}'");
        }

        return new PskCredentials(value[..colon], Convert.FromHexString(value[(colon + 1)..]));
    }
}

/// <summary>
/// One DTLS 1.2 client session on OpenSSL's client method over its own UDP socket (a fresh source port, so a fresh
/// session on the gateway; no resumption). Not thread-safe: one caller drives it at a time.
/// </summary>
internal sealed class BenchDtlsClient : IDisposable
{
    private const int Mtu = 1200;

    private readonly Socket _socket;
    private readonly SslHandle _ssl;
    private readonly DatagramChannel _channel;
    private readonly PskCredentials? _psk;
    private readonly byte[] _receiveBuffer = new byte[2048];
    private readonly List<byte[]> _outbound = [];

    public unsafe BenchDtlsClient(IPEndPoint server, IPAddress source, SslContextHandle context, string? serverName, PskCredentials? psk)
    {
        _psk = psk;
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            _socket.Bind(new IPEndPoint(source, 0));
            _socket.Connect(server);
            _ssl = OpenSslError.CheckHandle(NativeMethods.SSL_new(context), "SSL_new");
            _channel = new DatagramChannel { Owner = this };
            _channel.AttachTo(_ssl);
            NativeMethods.SSL_set_connect_state(_ssl);
            NativeMethods.SSL_ctrl(_ssl, NativeMethods.SslCtrlSetMtu, Mtu, nint.Zero);
            if (serverName is not null)
            {
                var bytes = Encoding.ASCII.GetBytes(serverName + "\0");
                fixed (byte* p = bytes)
                {
                    NativeMethods.SSL_ctrl(_ssl, NativeMethods.SslCtrlSetTlsextHostname, 0, (nint)p);
                }
            }

            if (psk is not null)
            {
                NativeMethods.SSL_set_psk_client_callback(_ssl, &PskCallback);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>A client context for one cipher suite, offering only the P-256 group (what <c>openssl speed ecdhp256</c> measures).</summary>
    public static unsafe SslContextHandle CreateContext(string cipher)
    {
        var context = SslContextFactory.CreateClientContext(cipher);
        var groups = "P-256\0"u8.ToArray();
        fixed (byte* p = groups)
        {
            OpenSslError.ThrowIf(NativeMethods.SSL_CTX_ctrl(context, NativeMethods.SslCtrlSetGroupsList, 0, (nint)p) != 1, "SSL_CTX_set1_groups_list");
        }

        return context;
    }

    /// <summary>Runs the handshake; throws <see cref="TimeoutException"/> or <see cref="IOException"/> on failure.</summary>
    public async Task HandshakeAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            OpenSslError.Clear();
            var rc = NativeMethods.SSL_do_handshake(_ssl);
            Flush();
            if (rc == 1)
            {
                return;
            }

            var error = NativeMethods.SSL_get_error(_ssl, rc);
            if (error != NativeMethods.SslErrorWantRead)
            {
                throw new IOException("handshake failed: " + OpenSslError.Drain(out _));
            }

            if (!await PumpAsync(deadline))
            {
                throw new TimeoutException("handshake timed out");
            }
        }
    }

    public string CipherName()
    {
        var cipher = NativeMethods.SSL_get_current_cipher(_ssl);
        return Marshal.PtrToStringUTF8(NativeMethods.SSL_CIPHER_get_name(cipher)) ?? "";
    }

    public unsafe void Send(ReadOnlySpan<byte> data)
    {
        OpenSslError.Clear();
        fixed (byte* p = data)
        {
            if (NativeMethods.SSL_write(_ssl, p, data.Length) != data.Length)
            {
                throw new IOException("SSL_write failed: " + OpenSslError.Drain(out _));
            }
        }

        Flush();
    }

    /// <summary>The next application datagram's length in <paramref name="into"/>; 0 on close_notify, -1 on timeout.</summary>
    public async Task<int> ReceiveAsync(byte[] into, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var rc = Read(into);
            Flush();
            if (rc > 0)
            {
                return rc;
            }

            var error = NativeMethods.SSL_get_error(_ssl, rc);
            if (error == NativeMethods.SslErrorZeroReturn)
            {
                return 0;
            }

            if (error != NativeMethods.SslErrorWantRead)
            {
                throw new IOException("SSL_read failed: " + OpenSslError.Drain(out _));
            }

            if (!await PumpAsync(deadline))
            {
                return -1;
            }
        }
    }

    private unsafe int Read(byte[] into)
    {
        OpenSslError.Clear();
        fixed (byte* p = into)
        {
            return NativeMethods.SSL_read(_ssl, p, into.Length);
        }
    }

    /// <summary>Sends close_notify (the gateway ends the session at once).</summary>
    public void Close()
    {
        OpenSslError.Clear();
        NativeMethods.SSL_shutdown(_ssl);
        OpenSslError.Clear();
        Flush();
    }

    /// <summary>Waits for one datagram (or the DTLS retransmission timer) and hands it to OpenSSL.</summary>
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
            // Nothing listens (yet): the caller's deadline decides.
            await Task.Delay(TimeSpan.FromMilliseconds(50));
        }

        return true;
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
        _channel.TakeDatagrams(Mtu, _outbound);
        foreach (var datagram in _outbound)
        {
            try
            {
                _socket.Send(datagram);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
            {
                // An ICMP port unreachable from an earlier send; the retransmission timer retries.
            }
        }

        _outbound.Clear();
    }

    public void Dispose()
    {
        _ssl?.Dispose();
        _channel?.Dispose();
        _socket.Dispose();
    }

    [UnmanagedCallersOnly]
    private static unsafe uint PskCallback(nint ssl, byte* hint, byte* identity, uint maxIdentity, byte* psk, uint maxPsk)
    {
        if (DatagramChannel.FromSsl(ssl)?.Owner is not BenchDtlsClient { _psk: { } credentials })
        {
            return 0;
        }

        var name = Encoding.UTF8.GetBytes(credentials.Identity);
        if (name.Length + 1 > maxIdentity || credentials.Key.Length > maxPsk)
        {
            return 0;
        }

        name.CopyTo(new Span<byte>(identity, name.Length));
        identity[name.Length] = 0;
        credentials.Key.CopyTo(new Span<byte>(psk, credentials.Key.Length));
        return (uint)credentials.Key.Length;
    }
}
