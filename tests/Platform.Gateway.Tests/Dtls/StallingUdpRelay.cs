using System.Net;
using System.Net.Sockets;

namespace Platform.Gateway.Tests.Dtls;

/// <summary>
/// A UDP relay in front of the gateway's DTLS port that passes a client's datagrams until the gateway answers with its
/// ServerHello flight, then drops everything else the client sends: a real client (openssl) left with a half-open
/// handshake, from the relay's address 127.0.0.1.
/// </summary>
internal sealed class StallingUdpRelay : IAsyncDisposable
{
    private const byte HandshakeRecord = 22;
    private const byte ServerHello = 2;

    private readonly Socket _front = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly Socket _back = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly TaskCompletionSource _stalled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _clientToGateway;
    private readonly Task _gatewayToClient;
    private EndPoint? _client;

    public StallingUdpRelay(IPEndPoint gateway)
    {
        _front.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _back.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _back.Connect(gateway);
        _clientToGateway = ClientToGatewayAsync();
        _gatewayToClient = GatewayToClientAsync();
    }

    public int Port => ((IPEndPoint)_front.LocalEndPoint!).Port;

    /// <summary>Completes when the gateway has sent its ServerHello flight and the client is cut off.</summary>
    public Task Stalled => _stalled.Task;

    private async Task ClientToGatewayAsync()
    {
        var buffer = new byte[65536];
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _front.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            _client = received.RemoteEndPoint;
            if (!_stalled.Task.IsCompleted)
            {
                await _back.SendAsync(buffer.AsMemory(0, received.ReceivedBytes), SocketFlags.None);
            }
        }
    }

    private async Task GatewayToClientAsync()
    {
        var buffer = new byte[65536];
        while (!_stop.IsCancellationRequested)
        {
            int length;
            try
            {
                length = await _back.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            // Record header 13 bytes, then the handshake message type.
            if (length > 13 && buffer[0] == HandshakeRecord && buffer[13] == ServerHello)
            {
                _stalled.TrySetResult();
            }

            if (_client is { } client)
            {
                await _front.SendToAsync(buffer.AsMemory(0, length), SocketFlags.None, client);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _front.Dispose();
        _back.Dispose();
        await Task.WhenAll(_clientToGateway, _gatewayToClient);
        _stop.Dispose();
    }
}
