using System.Buffers;
using System.Threading.Channels;
using Platform.Gateway.Connections;
using Platform.Gateway.Delivery;

namespace Platform.Gateway.Webhooks;

/// <summary>
/// The <c>webhook</c> delivery of one connection: client messages go into the tenant's <see cref="TenantWebhookQueue"/>
/// (waiting while it is full, which stops reading from the client), and messages the webhook's answers name this
/// connection for go back to the client in order.
/// </summary>
internal sealed class WebhookDelivery : IDelivery
{
    /// <summary>Most answer messages waiting for a client that is slow to take them; more close it as a slow client.</summary>
    public const int MaxPendingReplies = 256;

    private readonly TenantWebhookQueue _queue;
    private readonly Action<WebhookDelivery> _release;
    private readonly TimeSpan _backpressureLimit;
    private readonly Action _backlogClosed;
    private readonly Action _discardedAfterBacklog;
    private readonly Channel<(byte[] Payload, bool Text)> _replies =
        Channel.CreateBounded<(byte[], bool)>(new BoundedChannelOptions(MaxPendingReplies) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private IClientSink? _client;
    private long _sequence;
    private int _disposed;
    private int _backlogged;

    public WebhookDelivery(
        TenantWebhookQueue queue, string connectionId, string protocol, string? subProtocol, IReadOnlyDictionary<string, string> metadata,
        TimeSpan backpressureLimit, Action backlogClosed, Action discardedAfterBacklog, Action<WebhookDelivery> release)
    {
        _queue = queue;
        ConnectionId = connectionId;
        Protocol = protocol;
        SubProtocol = subProtocol;
        Metadata = metadata;
        _backpressureLimit = backpressureLimit;
        _backlogClosed = backlogClosed;
        _discardedAfterBacklog = discardedAfterBacklog;
        _release = release;
    }

    public string ConnectionId { get; }

    public string Protocol { get; }

    public string? SubProtocol { get; }

    /// <summary>The metadata the connect answer attached; every message event of the connection carries it.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public async ValueTask OnClientMessageAsync(ReadOnlyMemory<byte> message, bool text, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _backlogged) != 0)
        {
            // Closing with 4007 already: what the client sent after the gateway stopped taking its messages (whatever
            // piled up in the socket while it was held back, and anything it sends before it sees the close) is not
            // taken, so a client can't grow the queue past its budget; each such message is counted.
            _discardedAfterBacklog();
            return;
        }
        else
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(_backpressureLimit);
            try
            {
                await _queue.Budget.WaitAsync(message.Length, limit.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // The webhook has not taken the tenant's messages for the whole allowance: this client waited long enough.
                // The message read already is queued beyond the budget (nothing the gateway read is dropped), and the
                // connection closes.
                Volatile.Write(ref _backlogged, 1);
                _queue.Budget.Take(message.Length);
                _backlogClosed();
                _client?.Close(CloseCodes.WebhookBacklog, "webhook backlog");
            }
        }

        var copy = ArrayPool<byte>.Shared.Rent(message.Length);
        message.CopyTo(copy);
        _queue.Enqueue(this, copy, message.Length, text, Interlocked.Increment(ref _sequence));
    }

    public async Task<DeliveryEnd> RunAsync(IClientSink client, CancellationToken cancellationToken)
    {
        _client = client;
        try
        {
            await foreach (var (payload, text) in _replies.Reader.ReadAllAsync(cancellationToken))
            {
                await client.SendAsync(payload, text, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return DeliveryEnd.Cancelled;
        }

        return DeliveryEnd.Cancelled;
    }

    /// <summary>Queues a message of the webhook's answer for the client; false (and the client closed) when too many wait already.</summary>
    public bool Reply(byte[] payload, bool text)
    {
        if (_replies.Writer.TryWrite((payload, text)))
        {
            return true;
        }

        _client?.Close(CloseCodes.SlowClient, "client not reading");
        return false;
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _replies.Writer.TryComplete();
            _release(this);
        }

        return ValueTask.CompletedTask;
    }
}
