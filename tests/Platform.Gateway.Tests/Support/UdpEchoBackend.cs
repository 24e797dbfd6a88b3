using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Platform.Gateway.Tests.Support;

/// <summary>A real UDP echo server on a free loopback port: every datagram goes back to its sender, prefixed with "echo:".</summary>
internal sealed class UdpEchoBackend : IAsyncDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public UdpEchoBackend()
    {
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _loop = EchoAsync();
    }

    public int Port => ((IPEndPoint)_socket.LocalEndPoint!).Port;

    /// <summary>Source endpoints seen (one per gateway session, since each session has its own backend socket).</summary>
    public ConcurrentDictionary<IPEndPoint, int> Senders { get; } = new();

    private async Task EchoAsync()
    {
        var buffer = new byte[65536];
        var prefix = "echo:"u8.ToArray();
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException)
            {
                // An ICMP error for an earlier reply to a socket that has gone away.
                continue;
            }

            var from = (IPEndPoint)received.RemoteEndPoint;
            Senders.AddOrUpdate(from, 1, static (_, n) => n + 1);
            var reply = new byte[prefix.Length + received.ReceivedBytes];
            prefix.CopyTo(reply, 0);
            buffer.AsSpan(0, received.ReceivedBytes).CopyTo(reply.AsSpan(prefix.Length));
            await _socket.SendToAsync(reply, SocketFlags.None, from);
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
