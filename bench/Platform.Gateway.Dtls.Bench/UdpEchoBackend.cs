using System.Net;
using System.Net.Sockets;

namespace Platform.Gateway.Dtls.Bench;

/// <summary>The `forward` tenant's backend: a UDP socket that sends every datagram back to where it came from.</summary>
internal sealed class UdpEchoBackend : IAsyncDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _echoed;

    public UdpEchoBackend(int port)
    {
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
        _loop = Task.Run(LoopAsync);
    }

    public long Echoed => Interlocked.Read(ref _echoed);

    private async Task LoopAsync()
    {
        var buffer = new byte[65536];
        var address = new SocketAddress(AddressFamily.InterNetwork);
        while (!_stop.IsCancellationRequested)
        {
            int length;
            try
            {
                length = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, address, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
            {
                // An ICMP error for an earlier reply (a session's socket closed): not this backend's fault.
                continue;
            }

            try
            {
                await _socket.SendToAsync(buffer.AsMemory(0, length), SocketFlags.None, address, _stop.Token);
                Interlocked.Increment(ref _echoed);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
            {
                continue;
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _socket.Dispose();
        await _loop;
        _stop.Dispose();
    }
}
