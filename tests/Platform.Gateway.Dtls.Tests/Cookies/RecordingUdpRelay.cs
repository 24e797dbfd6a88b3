using System.Net;
using System.Net.Sockets;

namespace Platform.Gateway.Dtls.Tests.Cookies;

/// <summary>
/// A UDP relay on loopback between one client and the gateway that forwards every datagram both ways unchanged and
/// records each, in the order the relay saw them, so a test can count the messages on the wire.
/// </summary>
internal sealed class RecordingUdpRelay : IAsyncDisposable
{
    private readonly Socket _front = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly Socket _back = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _lock = new();
    private readonly List<(bool ToGateway, byte[] Datagram)> _log = [];
    private readonly Task _clientToGateway;
    private readonly Task _gatewayToClient;
    private EndPoint? _client;
    private volatile bool _forwardToClient = true;

    public RecordingUdpRelay(IPEndPoint gateway)
    {
        _front.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _back.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _back.Connect(gateway);
        _clientToGateway = ClientToGatewayAsync();
        _gatewayToClient = GatewayToClientAsync();
    }

    public int Port => ((IPEndPoint)_front.LocalEndPoint!).Port;

    /// <summary>Whether the gateway's datagrams still reach the client (they are recorded either way).</summary>
    public bool ForwardToClient
    {
        get => _forwardToClient;
        set => _forwardToClient = value;
    }

    /// <summary>When set, a datagram of the gateway's for which it returns true is recorded but not forwarded.</summary>
    public Func<byte[], bool>? DropToClient { get; set; }

    /// <summary>When set, a datagram of the client's for which it returns true is recorded but not forwarded.</summary>
    public Func<byte[], bool>? DropToGateway { get; set; }

    /// <summary>Sends a datagram of the test's own to the gateway from the relay's address, as the client's would come.</summary>
    public void SendToGateway(byte[] datagram)
    {
        Record(true, datagram);
        _back.Send(datagram);
    }

    /// <summary>Every datagram so far, in the order seen: ToGateway true for the client's, false for the gateway's.</summary>
    public IReadOnlyList<(bool ToGateway, byte[] Datagram)> Log
    {
        get
        {
            lock (_lock)
            {
                return [.. _log];
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
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }

            _client = received.RemoteEndPoint;
            Record(true, buffer.AsSpan(0, received.ReceivedBytes));
            if (DropToGateway is { } dropToGateway && dropToGateway(buffer.AsSpan(0, received.ReceivedBytes).ToArray()))
            {
                continue;
            }

            await _back.SendAsync(buffer.AsMemory(0, received.ReceivedBytes), SocketFlags.None);
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
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
            {
                // An ICMP port-unreachable for an earlier forward: the gateway is gone or not yet there.
                continue;
            }

            Record(false, buffer.AsSpan(0, length));
            if (DropToClient is { } dropToClient && dropToClient(buffer.AsSpan(0, length).ToArray()))
            {
                continue;
            }

            if (_client is { } client && _forwardToClient)
            {
                await _front.SendToAsync(buffer.AsMemory(0, length), SocketFlags.None, client);
            }
        }
    }

    private void Record(bool toGateway, ReadOnlySpan<byte> datagram)
    {
        lock (_lock)
        {
            _log.Add((toGateway, datagram.ToArray()));
        }
    }
}
