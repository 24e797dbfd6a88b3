using Platform.Gateway.Delivery;

namespace Platform.Gateway.Connections;

/// <summary>
/// The backend-to-client direction of a pumped connection as the delivery sees it: any fault of the client's send
/// becomes a <see cref="ClientWriteException"/>, so that it is never mistaken for a fault of the delivery itself.
/// </summary>
internal sealed class ClientSink(GatewayConnection connection) : IClientSink
{
    public ValueTask SendAsync(ReadOnlyMemory<byte> payload, bool text, CancellationToken cancellationToken)
    {
        ValueTask pending;
        try
        {
            pending = connection.SendAsync(payload, text, cancellationToken);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new ClientWriteException(ex);
        }

        return pending.IsCompletedSuccessfully ? ValueTask.CompletedTask : AwaitAsync(pending);
    }

    public void Close(int code, string? reason) => connection.Close(code, reason);

    private static async ValueTask AwaitAsync(ValueTask pending)
    {
        try
        {
            await pending;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new ClientWriteException(ex);
        }
    }
}
