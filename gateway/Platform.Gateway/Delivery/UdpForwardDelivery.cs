using System.Net.Sockets;
using Platform.Contracts.Config;
using Platform.Gateway.Egress;

namespace Platform.Gateway.Delivery;

/// <summary>
/// <c>forward</c> over UDP for datagram clients (DTLS): one connected UDP socket per client session, each client
/// datagram one backend datagram and each backend datagram one client datagram. Nothing is buffered beyond the
/// socket's own receive buffer; a client that cannot take a datagram pauses the backend reader.
/// </summary>
internal sealed class UdpForwardDelivery : IDelivery
{
    private readonly Socket _socket;
    private readonly int _maxDatagram;

    private UdpForwardDelivery(Socket socket, string target, int maxDatagram)
    {
        _socket = socket;
        Target = target;
        _maxDatagram = maxDatagram;
    }

    public string Target { get; }

    public string? ForwardTarget => Target;

    /// <summary>
    /// Resolves and checks the backend through <paramref name="egress"/> and connects the socket to the first allowed
    /// address (UDP has no handshake: an absent backend shows as ICMP errors on later sends and receives). A backend
    /// datagram longer than <paramref name="maxDatagram"/> ends the session (it cannot reach the client whole).
    /// </summary>
    public static async Task<UdpForwardDelivery> ConnectAsync(EgressConnector egress, string tenant, ForwardConfig config, int maxDatagram, CancellationToken cancellationToken)
    {
        var target = ForwardDelivery.TargetOf(config);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(config.ConnectTimeoutSeconds));
        try
        {
            var socket = await egress.ConnectAsync(tenant, config.Host, config.Port, SocketType.Dgram, timeout.Token);
            return new UdpForwardDelivery(socket, target, maxDatagram);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new BackendUnreachableException(target, "name resolution timed out");
        }
    }

    public async ValueTask OnClientMessageAsync(ReadOnlyMemory<byte> message, bool text, CancellationToken cancellationToken)
    {
        try
        {
            await _socket.SendAsync(message, SocketFlags.None, cancellationToken);
        }
        catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionRefused or SocketError.ConnectionReset)
        {
            // An ICMP port-unreachable from an earlier datagram: the backend is not (yet) listening.
            throw new IOException("The UDP backend refused a datagram.", ex);
        }
    }

    public async Task<DeliveryEnd> RunAsync(IClientSink client, CancellationToken cancellationToken)
    {
        // One byte more than the largest datagram the client takes tells an oversized backend datagram apart.
        var buffer = GC.AllocateUninitializedArray<byte>(_maxDatagram + 1);
        try
        {
            while (true)
            {
                var length = await _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
                if (length > _maxDatagram)
                {
                    // One DTLS record must fit the client's MTU; a backend datagram that cannot is a backend fault.
                    return DeliveryEnd.DestinationFailed;
                }

                await client.SendAsync(buffer.AsMemory(0, length), text: false, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return DeliveryEnd.Cancelled;
        }
        catch (SocketException)
        {
            // Typically ICMP port unreachable: the backend is gone.
            return DeliveryEnd.DestinationFailed;
        }
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
