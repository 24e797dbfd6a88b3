using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Platform.Gateway.Tests.Support;

/// <summary>
/// A .NET TLS client over a real socket with bounded waits: the server certificate it saw, and echo
/// helpers. Takes whatever certificate the server presents and leaves judging it to the test, which
/// compares it with the one uploaded (throwaway CAs make path validation meaningless here).
/// </summary>
internal sealed class TlsClient : IAsyncDisposable
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(20);
    private readonly Socket _socket;

    private TlsClient(Socket socket, SslStream stream, X509Certificate2? server)
    {
        _socket = socket;
        Stream = stream;
        ServerCertificate = server;
    }

    public SslStream Stream { get; }

    /// <summary>The client's own end, to find the gateway's side of the connection.</summary>
    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    public X509Certificate2? ServerCertificate { get; }

    public string ServerThumbprint => TestCertificates.Thumbprint(ServerCertificate!.RawData);

    /// <summary>
    /// Connects and handshakes; <paramref name="serverName"/> null or empty sends no SNI. <paramref name="source"/> binds the
    /// client's end to a chosen loopback address.
    /// </summary>
    public static async Task<TlsClient> ConnectAsync(
        IPEndPoint server, string? serverName, X509Certificate2? clientCertificate = null, SslProtocols protocols = SslProtocols.None,
        X509Certificate2Collection? clientChain = null, IPAddress? source = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        SslStream? ssl = null;
        try
        {
            if (source is not null)
            {
                socket.Bind(new IPEndPoint(source, 0));
            }

            using var limit = new CancellationTokenSource(WaitLimit);
            await socket.ConnectAsync(server, limit.Token);
            ssl = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
            X509Certificate2? seen = null;
            var options = new SslClientAuthenticationOptions
            {
                TargetHost = serverName ?? "",
                EnabledSslProtocols = protocols,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                {
                    seen = certificate is null ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
                    return seen is not null;
                },
            };
            if (clientCertificate is not null)
            {
                options.ClientCertificateContext = SslStreamCertificateContext.Create(clientCertificate, clientChain, offline: true);
            }

            await ssl.AuthenticateAsClientAsync(options, limit.Token);
            return new TlsClient(socket, ssl, seen);
        }
        catch
        {
            ssl?.Dispose();
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The thumbprint of the certificate served for <paramref name="serverName"/>.</summary>
    public static async Task<string> ServedThumbprintAsync(IPEndPoint server, string? serverName)
    {
        await using var client = await ConnectAsync(server, serverName);
        return client.ServerThumbprint;
    }

    public async Task WriteAsync(string text)
    {
        using var limit = new CancellationTokenSource(WaitLimit);
        await Stream.WriteAsync(Encoding.UTF8.GetBytes(text), limit.Token);
        await Stream.FlushAsync(limit.Token);
    }

    /// <summary>Reads until exactly <paramref name="length"/> bytes have arrived (fails on end of stream).</summary>
    public async Task<string> ReadAsync(int length)
    {
        using var limit = new CancellationTokenSource(WaitLimit);
        var buffer = new byte[length];
        await Stream.ReadExactlyAsync(buffer, limit.Token);
        return Encoding.UTF8.GetString(buffer);
    }

    /// <summary>Sends <paramref name="text"/> and expects it back byte for byte.</summary>
    public async Task<string> EchoAsync(string text)
    {
        await WriteAsync(text);
        return await ReadAsync(Encoding.UTF8.GetByteCount(text));
    }

    /// <summary>
    /// True when the server ends the connection (end of stream, reset, or a TLS alert) rather than
    /// answering <paramref name="probe"/>; the wait is bounded.
    /// </summary>
    public async Task<bool> IsRefusedAsync(string probe = "probe\n")
    {
        using var limit = new CancellationTokenSource(WaitLimit);
        try
        {
            await Stream.WriteAsync(Encoding.UTF8.GetBytes(probe), limit.Token);
            var buffer = new byte[256];
            return await Stream.ReadAsync(buffer, limit.Token) == 0;
        }
        catch (Exception ex) when (ex is IOException or AuthenticationException or SocketException)
        {
            return true;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Stream.DisposeAsync();
        _socket.Dispose();
    }

    /// <summary>
    /// Connects, sends nothing or <paramref name="first"/>, and waits until the server closes (end of stream
    /// or reset). Fails when the server keeps the connection open beyond the wait limit.
    /// </summary>
    public static async Task AssertServerClosesAsync(IPEndPoint server, byte[]? first = null)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var limit = new CancellationTokenSource(WaitLimit);
        await socket.ConnectAsync(server, limit.Token);
        if (first is not null)
        {
            await socket.SendAsync(first, SocketFlags.None, limit.Token);
        }

        var buffer = new byte[16 * 1024];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token) > 0)
            {
                // The server may answer (a TLS alert, its first flight) before it closes.
            }
        }
        catch (SocketException)
        {
            // Reset: closed as well.
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"The server kept the connection open for {WaitLimit.TotalSeconds} s.");
        }
    }

    /// <summary>
    /// A real ClientHello for <paramref name="serverName"/>, captured from .NET's TLS client on a throwaway
    /// loopback listener (the first TLS record it sends).
    /// </summary>
    public static async Task<byte[]> CaptureClientHelloAsync(string serverName)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var limit = new CancellationTokenSource(WaitLimit);
        using var client = new TcpClient();
        var connect = client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port, limit.Token).AsTask();
        using var accepted = await listener.AcceptTcpClientAsync(limit.Token);
        await connect;
        using var ssl = new SslStream(client.GetStream(), leaveInnerStreamOpen: true);
        var handshake = ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = serverName }, limit.Token);
        var stream = accepted.GetStream();
        var header = new byte[5];
        await stream.ReadExactlyAsync(header, limit.Token);
        var length = (header[3] << 8) | header[4];
        var record = new byte[5 + length];
        header.CopyTo(record, 0);
        await stream.ReadExactlyAsync(record.AsMemory(5), limit.Token);
        accepted.Close();
        try
        {
            await handshake;
        }
        catch (Exception ex) when (ex is IOException or AuthenticationException or OperationCanceledException)
        {
            // Expected: the capturing side hung up.
        }

        return record;
    }
}
