namespace Platform.Gateway.Delivery;

/// <summary>Diagnostics: every client message goes back to the client unchanged, as the same message type.</summary>
internal sealed class EchoDelivery : IDelivery
{
    private IClientSink? _client;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async ValueTask OnClientMessageAsync(ReadOnlyMemory<byte> message, bool text, CancellationToken cancellationToken)
    {
        if (_client is null)
        {
            await _ready.Task.WaitAsync(cancellationToken);
        }

        await _client!.SendAsync(message, text, cancellationToken);
    }

    public async Task<DeliveryEnd> RunAsync(IClientSink client, CancellationToken cancellationToken)
    {
        _client = client;
        _ready.TrySetResult();
        await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return DeliveryEnd.Cancelled;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
