using System.Net;
using System.Net.Sockets;

namespace Platform.Gateway.Tests.Support;

/// <summary>
/// A TLS client that sends a ClientHello (or nothing at all) on a raw socket and then stalls: it never answers the
/// server's flight. Tells apart a server that took the handshake on (its flight arrives and the socket stays open) from
/// one that refused it (a fatal alert, then the close).
/// </summary>
internal sealed class StalledHandshake : IDisposable
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(20);
    private readonly Socket _socket;

    private StalledHandshake(Socket socket) => _socket = socket;

    /// <summary>Connects from <paramref name="source"/> and sends <paramref name="clientHello"/>, if any.</summary>
    public static async Task<StalledHandshake> StartAsync(IPEndPoint server, byte[]? clientHello, IPAddress source)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(source, 0));
            using var limit = new CancellationTokenSource(WaitLimit);
            await socket.ConnectAsync(server, limit.Token);
            if (clientHello is not null)
            {
                await socket.SendAsync(clientHello, SocketFlags.None, limit.Token);
            }

            return new StalledHandshake(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The first TLS record the server sends: its content type (22 handshake, 21 alert) and, for an alert, the
    /// description; (0, 0) when the server closed without a record.
    /// </summary>
    public async Task<(byte ContentType, byte Alert)> FirstRecordAsync()
    {
        var header = new byte[5];
        if (!await ReadExactlyOrEndAsync(header))
        {
            return (0, 0);
        }

        var body = new byte[(header[3] << 8) | header[4]];
        Assert.True(await ReadExactlyOrEndAsync(body), "The server closed in the middle of a record.");
        return (header[0], header[0] == 21 ? body[1] : (byte)0);
    }

    /// <summary>Asserts the server refused with a fatal alert of <paramref name="description"/> and closed.</summary>
    public async Task AssertRefusedAsync(byte description)
    {
        var (type, alert) = await FirstRecordAsync();
        Assert.True(type == 21 && alert == description, $"Expected alert {description}, got record type {type} alert {alert}.");
        await AssertClosedAsync();
    }

    /// <summary>Asserts the server answered with its handshake flight (the handshake goes on, half open).</summary>
    public async Task AssertTakenOnAsync()
    {
        var (type, alert) = await FirstRecordAsync();
        Assert.True(type == 22, $"Expected the server's handshake flight, got record type {type} alert {alert}.");
    }

    /// <summary>Waits until the server closes the connection (end of stream or reset), discarding what it sends.</summary>
    public async Task AssertClosedAsync()
    {
        using var limit = new CancellationTokenSource(WaitLimit);
        var buffer = new byte[16 * 1024];
        try
        {
            while (await _socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token) > 0)
            {
                // The rest of the server's flight, or its alert.
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

    public void Dispose() => _socket.Dispose();

    private async Task<bool> ReadExactlyOrEndAsync(byte[] buffer)
    {
        using var limit = new CancellationTokenSource(WaitLimit);
        var read = 0;
        try
        {
            while (read < buffer.Length)
            {
                var n = await _socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, limit.Token);
                if (n == 0)
                {
                    return false;
                }

                read += n;
            }
        }
        catch (SocketException)
        {
            return false;
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"Nothing came from the server within {WaitLimit.TotalSeconds} s.");
        }

        return true;
    }
}
