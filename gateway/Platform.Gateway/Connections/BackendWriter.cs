using System.Net.Sockets;
using Platform.Gateway.Delivery;

namespace Platform.Gateway.Connections;

/// <summary>
/// The client-to-backend direction of a pumped connection: hands each client message to the delivery.
/// A backend fault (an <see cref="IOException"/> or <see cref="SocketException"/> from the delivery) becomes a
/// <see cref="BackendWriteException"/>, so that every protocol's reader tells it apart from its own transport's faults.
/// The message's memory stays the caller's: the delivery has taken what it needs when the returned task completes.
/// </summary>
internal sealed class BackendWriter(IDelivery delivery)
{
    public ValueTask WriteAsync(ReadOnlyMemory<byte> message, bool text, CancellationToken cancellationToken)
    {
        ValueTask pending;
        try
        {
            pending = delivery.OnClientMessageAsync(message, text, cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            throw new BackendWriteException(ex);
        }

        return pending.IsCompletedSuccessfully ? ValueTask.CompletedTask : AwaitAsync(pending);
    }

    private static async ValueTask AwaitAsync(ValueTask pending)
    {
        try
        {
            await pending;
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            throw new BackendWriteException(ex);
        }
    }
}
