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

    public Task<DeliveryEnd> RunAsync(IClientSink client, CancellationToken cancellationToken)
    {
        _client = client;
        _ready.TrySetResult();

        // Nothing to move until the connection ends: one completion source, set by the token (no timer, no state machine).
        var ended = new TaskCompletionSource<DeliveryEnd>(TaskCreationOptions.RunContinuationsAsynchronously);
        cancellationToken.UnsafeRegister(static state => ((TaskCompletionSource<DeliveryEnd>)state!).TrySetResult(DeliveryEnd.Cancelled), ended);
        return ended.Task;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
