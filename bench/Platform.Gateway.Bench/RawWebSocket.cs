using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Platform.Gateway.Bench;

/// <summary>
/// Where the load goes: an address, the HTTP Host and path of the upgrade (for wss also the SNI name), and the
/// server processes whose memory and CPU are read.
/// </summary>
internal sealed record Target(string Name, IReadOnlyList<IPEndPoint> EndPoints, string Host, string Path, bool Tls, IReadOnlyList<int> Pids)
{
    private int _next;

    /// <summary>The text the target was parsed from, handed to holder processes.</summary>
    public required string Spec { get; init; }

    /// <summary>SHA-256 thumbprint the server certificate must have (wss).</summary>
    public string? Thumbprint { get; init; }

    /// <summary>Connections go round-robin over the endpoints (several server processes behind one target).</summary>
    public IPEndPoint NextEndPoint() => EndPoints[(int)((uint)Interlocked.Increment(ref _next) % EndPoints.Count)];
}

/// <summary>
/// A minimal WebSocket client over a raw socket, so that the load generator costs little next to the server:
/// a fixed masked frame per connection, no per-connection buffers while idle.
/// </summary>
internal sealed class RawWebSocket : IAsyncDisposable
{
    private const string Key = "dGhlIHNhbXBsZSBub25jZQ==";
    private readonly Socket _socket;
    private readonly Stream _stream;

    private RawWebSocket(Socket socket, Stream stream)
    {
        _socket = socket;
        _stream = stream;
    }

    public static async Task<RawWebSocket> ConnectAsync(Target target, IPAddress source, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream? stream = null;
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(new IPEndPoint(source, 0));
            await socket.ConnectAsync(target.NextEndPoint(), cancellationToken);
            stream = new NetworkStream(socket, ownsSocket: false);
            if (target.Tls)
            {
                var tls = new SslStream(stream, leaveInnerStreamOpen: false, (_, certificate, _, _) =>
                    certificate is X509Certificate2 c && string.Equals(c.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256), target.Thumbprint, StringComparison.OrdinalIgnoreCase));
                stream = tls;
                await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = target.Host }, cancellationToken);
            }

            var request = Encoding.ASCII.GetBytes(
                $"GET {target.Path} HTTP/1.1\r\nHost: {target.Host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                $"Sec-WebSocket-Key: {Key}\r\nSec-WebSocket-Version: 13\r\n\r\n");
            await stream.WriteAsync(request, cancellationToken);
            await ReadUpgradeResponseAsync(stream, cancellationToken);
            return new RawWebSocket(socket, stream);
        }
        catch
        {
            stream?.Dispose();
            socket.Dispose();
            throw;
        }
    }

    private static async Task ReadUpgradeResponseAsync(Stream stream, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            // The server sends nothing after its answer until the client speaks, so whole reads are safe.
            var length = 0;
            while (length < 4 || !buffer.AsSpan(length - 4, 4).SequenceEqual("\r\n\r\n"u8))
            {
                if (length == buffer.Length)
                {
                    throw new IOException("upgrade response head too long");
                }

                var read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken);
                if (read == 0)
                {
                    throw new IOException("the server closed the connection before answering the upgrade");
                }

                length += read;
            }

            var head = Encoding.ASCII.GetString(buffer, 0, length);
            if (!head.StartsWith("HTTP/1.1 101", StringComparison.Ordinal))
            {
                throw new IOException($"upgrade refused: {head[..head.IndexOf('\r', StringComparison.Ordinal)]}");
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>True while the server has neither closed nor sent anything (an idle connection reads nothing).</summary>
    public bool LooksOpen => !_socket.Poll(0, SelectMode.SelectRead);

    /// <summary>Builds a masked binary frame carrying <paramref name="payloadLength"/> bytes (under 126).</summary>
    public static byte[] BinaryFrame(int payloadLength)
    {
        var frame = new byte[6 + payloadLength];
        frame[0] = 0x82;
        frame[1] = (byte)(0x80 | payloadLength);
        Random.Shared.NextBytes(frame.AsSpan(2));
        return frame;
    }

    /// <summary>Sends <paramref name="frame"/> and reads binary frames until as many payload bytes came back.</summary>
    public async Task RoundTripAsync(byte[] frame, byte[] scratch, CancellationToken cancellationToken)
    {
        await _stream.WriteAsync(frame, cancellationToken);
        var expected = frame.Length - 6;
        var received = 0;
        while (received < expected)
        {
            received += await ReadDataFrameAsync(scratch, cancellationToken);
        }
    }

    private async Task<int> ReadDataFrameAsync(byte[] scratch, CancellationToken cancellationToken)
    {
        await _stream.ReadExactlyAsync(scratch.AsMemory(0, 2), cancellationToken);
        var opcode = scratch[0] & 0x0F;
        long length = scratch[1] & 0x7F;
        if (length == 126)
        {
            await _stream.ReadExactlyAsync(scratch.AsMemory(0, 2), cancellationToken);
            length = BinaryPrimitives.ReadUInt16BigEndian(scratch);
        }
        else if (length == 127)
        {
            await _stream.ReadExactlyAsync(scratch.AsMemory(0, 8), cancellationToken);
            length = BinaryPrimitives.ReadInt64BigEndian(scratch);
        }

        if (length > scratch.Length)
        {
            throw new IOException($"frame of {length} bytes is larger than the test expects");
        }

        await _stream.ReadExactlyAsync(scratch.AsMemory(0, (int)length), cancellationToken);
        return opcode switch
        {
            0x1 or 0x2 or 0x0 => (int)length,
            0x8 => throw new IOException($"server closed the WebSocket ({(length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(scratch) : 0)})"),
            _ => 0,
        };
    }

    /// <summary>The closing handshake: sends close 1000 and waits for the server's close frame.</summary>
    public async Task CloseAsync(byte[] scratch, CancellationToken cancellationToken)
    {
        byte[] close = [0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8];
        await _stream.WriteAsync(close, cancellationToken);
        while (true)
        {
            await _stream.ReadExactlyAsync(scratch.AsMemory(0, 2), cancellationToken);
            var opcode = scratch[0] & 0x0F;
            var length = scratch[1] & 0x7F;
            if (length >= 126)
            {
                throw new IOException("unexpected long frame during close");
            }

            await _stream.ReadExactlyAsync(scratch.AsMemory(0, length), cancellationToken);
            if (opcode == 0x8)
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _socket.Dispose();
    }
}
