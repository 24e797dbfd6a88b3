using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Platform.Gateway.Tests.Support;

/// <summary>
/// A hand-driven WebSocket client on a plain socket: completes the upgrade, then reads frames only when
/// asked, and never answers pings (for tests of clients that misbehave).
/// </summary>
internal sealed class RawWebSocket : IDisposable
{
    private readonly byte[] _pending = new byte[64 * 1024];
    private int _pendingCount;

    private RawWebSocket(Socket socket) => Socket = socket;

    public Socket Socket { get; }

    /// <summary>
    /// Connects and upgrades; <paramref name="receiveBuffer"/> shrinks the socket's receive buffer first, and
    /// <paramref name="withHead"/> is sent in the same write as the request head, before the 101 arrives.
    /// </summary>
    public static async Task<RawWebSocket> ConnectAsync(IPEndPoint gateway, string host, string path, int? receiveBuffer = null, byte[]? withHead = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (receiveBuffer is { } size)
        {
            socket.ReceiveBufferSize = size;
        }

        var raw = new RawWebSocket(socket);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await socket.ConnectAsync(gateway, timeout.Token);
        var request = $"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            $"Sec-WebSocket-Key: {RawHttp.ValidKey}\r\nSec-WebSocket-Version: 13\r\n\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(request).Concat(withHead ?? []).ToArray(), SocketFlags.None, timeout.Token);
        while (true)
        {
            var text = Encoding.ASCII.GetString(raw._pending, 0, raw._pendingCount);
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                Assert.StartsWith("HTTP/1.1 101", text, StringComparison.Ordinal);
                var headLength = end + 4;
                raw._pendingCount -= headLength;
                Buffer.BlockCopy(raw._pending, headLength, raw._pending, 0, raw._pendingCount);
                return raw;
            }

            var read = await socket.ReceiveAsync(raw._pending.AsMemory(raw._pendingCount), SocketFlags.None, timeout.Token);
            Assert.True(read > 0, "The gateway closed before answering the upgrade.");
            raw._pendingCount += read;
        }
    }

    /// <summary>Reads one server frame (server frames are unmasked); null when the connection ended.</summary>
    public async Task<(int Opcode, byte[] Payload)?> ReadFrameAsync(CancellationToken cancellationToken)
    {
        if (!await FillAsync(2, cancellationToken))
        {
            return null;
        }

        var opcode = _pending[0] & 0x0F;
        long length = _pending[1] & 0x7F;
        var header = 2;
        if (length == 126)
        {
            header = 4;
        }
        else if (length == 127)
        {
            header = 10;
        }

        if (!await FillAsync(header, cancellationToken))
        {
            return null;
        }

        if (header == 4)
        {
            length = (_pending[2] << 8) | _pending[3];
        }
        else if (header == 10)
        {
            length = 0;
            for (var i = 2; i < 10; i++)
            {
                length = (length << 8) | _pending[i];
            }
        }

        Assert.True(header + length <= _pending.Length, $"Frame of {length} bytes is larger than this test client reads.");
        if (!await FillAsync(header + (int)length, cancellationToken))
        {
            return null;
        }

        var payload = _pending.AsSpan(header, (int)length).ToArray();
        var used = header + (int)length;
        _pendingCount -= used;
        Buffer.BlockCopy(_pending, used, _pending, 0, _pendingCount);
        return (opcode, payload);
    }

    /// <summary>Reads frames until the connection ends; returns them.</summary>
    public async Task<List<(int Opcode, byte[] Payload)>> ReadUntilEndAsync(CancellationToken cancellationToken)
    {
        var frames = new List<(int, byte[])>();
        try
        {
            while (await ReadFrameAsync(cancellationToken) is { } frame)
            {
                frames.Add(frame);
            }
        }
        catch (SocketException)
        {
            // Reset by the gateway: the end as well.
        }

        return frames;
    }

    private async Task<bool> FillAsync(int count, CancellationToken cancellationToken)
    {
        while (_pendingCount < count)
        {
            var read = await Socket.ReceiveAsync(_pending.AsMemory(_pendingCount), SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                return false;
            }

            _pendingCount += read;
        }

        return true;
    }

    /// <summary>A masked client frame (RFC 6455 section 5.2) with a payload under 126 bytes.</summary>
    public static byte[] ClientFrame(int opcode, byte[] payload)
    {
        byte[] mask = [0x1f, 0x2e, 0x3d, 0x4c];
        var frame = new byte[6 + payload.Length];
        frame[0] = (byte)(0x80 | opcode);
        frame[1] = (byte)(0x80 | payload.Length);
        mask.CopyTo(frame, 2);
        for (var i = 0; i < payload.Length; i++)
        {
            frame[6 + i] = (byte)(payload[i] ^ mask[i % 4]);
        }

        return frame;
    }

    public void Dispose() => Socket.Dispose();
}
