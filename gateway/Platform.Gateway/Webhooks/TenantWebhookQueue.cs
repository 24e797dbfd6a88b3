using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Platform.Contracts.Config;
using Platform.Contracts.Internal;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Webhooks;

/// <summary>
/// One tenant's client messages on their way to its webhook: a single queue, so messages leave in the order they came (per
/// connection and overall), sent by one loop in batches bounded by the tenant's <c>batchMaxMessages</c>,
/// <c>batchMaxBytes</c> and <c>batchDelayMilliseconds</c>. A batch that fails is sent again, same event id, with
/// exponential backoff, until it is taken; meanwhile the queue fills up to its byte budget and then the clients' reads
/// wait (backpressure), which ends after <c>backpressureTimeoutSeconds</c> with close code 4007. Messages in the
/// webhook's answer go to the tenant's own connections on this gateway only.
/// </summary>
internal sealed partial class TenantWebhookQueue : IDisposable
{
    /// <summary>The byte budget is this many batches' worth of <c>batchMaxBytes</c>.</summary>
    public const int BudgetBatches = 4;

    /// <summary>Longest wait between two attempts at a failing batch.</summary>
    public static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(100);

    private readonly Guid _tenantId;
    private readonly string _slug;
    private readonly Func<Guid, TenantRuntime?> _tenants;
    private readonly WebhookHttp _http;
    private readonly WebhookMetrics _metrics;
    private readonly WebhookStatusLedger _ledger;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<string, WebhookDelivery> _connections = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private Task _loop = Task.CompletedTask;
    private int _abandoned;

    public TenantWebhookQueue(TenantRuntime tenant, Func<Guid, TenantRuntime?> tenants, WebhookHttp http, WebhookMetrics metrics, WebhookStatusLedger ledger, TimeProvider time, ILogger logger)
    {
        _tenantId = tenant.Id;
        _slug = tenant.Slug;
        _tenants = tenants;
        _http = http;
        _metrics = metrics;
        _ledger = ledger;
        _time = time;
        _logger = logger;
        var webhook = tenant.Config.Delivery.Webhook ?? new WebhookConfig();
        Budget = new ByteBudget((long)webhook.BatchMaxBytes * BudgetBatches);
    }

    /// <summary>Connections of the tenant on this gateway that use the queue; the dispatcher changes it under its lock.</summary>
    public int References { get; set; }

    /// <summary>Bytes of queued messages, bounded.</summary>
    public ByteBudget Budget { get; }

    public void Start() => _loop = Task.Run(() => RunAsync(_stopping.Token));

    public void Attach(WebhookDelivery connection) => _connections[connection.ConnectionId] = connection;

    public void Detach(WebhookDelivery connection) => _connections.TryRemove(new KeyValuePair<string, WebhookDelivery>(connection.ConnectionId, connection));

    /// <summary>
    /// Queues one message (the caller has taken <paramref name="length"/> bytes of <see cref="Budget"/>); the queue returns
    /// <paramref name="payload"/> to the shared array pool once it is sent.
    /// </summary>
    public void Enqueue(WebhookDelivery connection, byte[] payload, int length, bool text, long sequence)
    {
        if (!_queue.Writer.TryWrite(new Pending(connection, payload, length, text, sequence)))
        {
            // Completed: the last connection has gone and the loop is draining, which a new message cannot reach.
            ArrayPool<byte>.Shared.Return(payload);
            Budget.Release(length);
        }
    }

    /// <summary>No more messages: the loop sends what is queued and ends; <paramref name="limit"/> bounds the wait.</summary>
    public async Task CompleteAsync(TimeSpan limit)
    {
        _queue.Writer.TryComplete();
        var gaveUp = await Task.WhenAny(_loop, Task.Delay(limit, _time)) != _loop;
        await _stopping.CancelAsync();
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        // Counted while taken out: a single-reader channel cannot count what it holds.
        var left = Volatile.Read(ref _abandoned);
        while (_queue.Reader.TryRead(out var unsent))
        {
            ArrayPool<byte>.Shared.Return(unsent.Payload);
            Budget.Release(unsent.Length);
            left++;
        }

        if (gaveUp)
        {
            Log.GaveUp(_logger, _slug, left);
        }

        Dispose();
    }

    public void Dispose() => _stopping.Dispose();

    private async Task RunAsync(CancellationToken stopping)
    {
        var batch = new List<Pending>();
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stopping))
            {
                await CollectAsync(batch, Tenant().Webhook, stopping);
                await SendAsync(batch, stopping);
                foreach (var sent in batch)
                {
                    ArrayPool<byte>.Shared.Return(sent.Payload);
                    Budget.Release(sent.Length);
                }

                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            Volatile.Write(ref _abandoned, batch.Count);
            foreach (var unsent in batch)
            {
                ArrayPool<byte>.Shared.Return(unsent.Payload);
                Budget.Release(unsent.Length);
            }
        }
    }

    private async Task CollectAsync(List<Pending> batch, WebhookConfig webhook, CancellationToken stopping)
    {
        var bytes = 0L;
        var reader = _queue.Reader;
        using var window = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var waited = false;
        while (batch.Count < webhook.BatchMaxMessages && bytes < webhook.BatchMaxBytes)
        {
            if (reader.TryRead(out var next))
            {
                batch.Add(next);
                bytes += next.Length;
                continue;
            }

            if (waited || webhook.BatchDelayMilliseconds == 0 || batch.Count == 0)
            {
                break;
            }

            // After the first message, wait up to the batch delay for more.
            waited = true;
            window.CancelAfter(TimeSpan.FromMilliseconds(webhook.BatchDelayMilliseconds));
            try
            {
                while (batch.Count < webhook.BatchMaxMessages && bytes < webhook.BatchMaxBytes && await reader.WaitToReadAsync(window.Token))
                {
                    while (batch.Count < webhook.BatchMaxMessages && bytes < webhook.BatchMaxBytes && reader.TryRead(out next))
                    {
                        batch.Add(next);
                        bytes += next.Length;
                    }
                }
            }
            catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
            {
                // The delay is over: send what there is.
            }
        }
    }

    private async Task SendAsync(List<Pending> batch, CancellationToken stopping)
    {
        var eventId = Guid.NewGuid().ToString();
        var body = Body(eventId, batch);
        for (var attempt = 0; ; attempt++)
        {
            // Read again on every attempt: a settings change (a new URL, a rotated secret) applies to the retries.
            var (webhook, previousSecret) = Tenant();
            var answer = await _http.PostAsync(_slug, webhook, previousSecret, MessagesEvent, eventId, body, stopping);
            if (answer.Succeeded)
            {
                _metrics.Request(_slug, MessagesEvent, "ok");
                _metrics.Delivered(_slug, batch.Count);
                _ledger.Delivered(_tenantId, MessagesEvent, webhook.Url);
                Reply(answer.Body);
                return;
            }

            var outcome = answer.Failure ?? "status_" + answer.Status;
            _metrics.Request(_slug, MessagesEvent, outcome);
            // Every failed attempt counts; a 1xx, 3xx (redirect), 4xx or 5xx answer is not a 2xx.
            var (kind, status, cause) = answer.Failure is { } failure
                ? WebhookStatusLedger.Classify(failure, answer.Status)
                : (Contracts.Webhooks.WebhookFailureKinds.HttpStatus, answer.Status, null);
            _ledger.Failed(_tenantId, MessagesEvent, kind, status, webhook.Url, cause);
            var delay = TimeSpan.FromTicks(Math.Min(MaxRetryDelay.Ticks, FirstRetryDelay.Ticks << Math.Min(attempt, 16)));
            Log.BatchFailed(_logger, _slug, batch.Count, outcome, attempt + 1, delay.TotalMilliseconds);
            await Task.Delay(delay, _time, stopping);
        }
    }

    /// <summary>The <c>messages</c> event name (header and body).</summary>
    public const string MessagesEvent = "messages";

    private byte[] Body(string eventId, List<Pending> batch)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteString("type", MessagesEvent);
            json.WriteString("id", eventId);
            json.WriteString("tenant", _slug);
            json.WriteString("time", _time.GetUtcNow());
            json.WriteStartArray("messages");
            foreach (var message in batch)
            {
                json.WriteStartObject();
                json.WriteString("connectionId", message.Connection.ConnectionId);
                json.WriteNumber("sequence", message.Sequence);
                json.WriteString("protocol", message.Connection.Protocol);
                if (message.Text)
                {
                    json.WriteString("text", message.Payload.AsSpan(0, message.Length));
                }
                else
                {
                    json.WriteBase64String("data", message.Payload.AsSpan(0, message.Length));
                }

                if (message.Connection.Metadata.Count > 0)
                {
                    json.WriteStartObject("metadata");
                    foreach (var (key, value) in message.Connection.Metadata)
                    {
                        json.WriteString(key, value);
                    }

                    json.WriteEndObject();
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return stream.ToArray();
    }

    /// <summary>Sends the messages of a 2xx answer's <c>replies</c> to the tenant's connections they name.</summary>
    private void Reply(byte[] answer)
    {
        if (answer.Length == 0)
        {
            return;
        }

        try
        {
            using var document = JsonDocument.Parse(answer, new JsonDocumentOptions { MaxDepth = 8 });
            if (document.RootElement.ValueKind != JsonValueKind.Object || !document.RootElement.TryGetProperty("replies", out var replies))
            {
                return;
            }

            if (replies.ValueKind != JsonValueKind.Array)
            {
                _metrics.Reply(_slug, "invalid");
                return;
            }

            foreach (var reply in replies.EnumerateArray())
            {
                Reply(reply);
            }
        }
        catch (JsonException)
        {
            // The messages were taken (2xx); an answer that is not JSON carries no replies.
            _metrics.Reply(_slug, "invalid");
        }
    }

    private void Reply(JsonElement reply)
    {
        if (reply.ValueKind != JsonValueKind.Object
            || !reply.TryGetProperty("connectionId", out var id) || id.ValueKind != JsonValueKind.String)
        {
            _metrics.Reply(_slug, "invalid");
            return;
        }

        byte[] payload;
        bool text;
        if (reply.TryGetProperty("text", out var textElement) && textElement.ValueKind == JsonValueKind.String)
        {
            payload = System.Text.Encoding.UTF8.GetBytes(textElement.GetString()!);
            text = true;
        }
        else if (reply.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.String && data.TryGetBytesFromBase64(out var bytes))
        {
            payload = bytes;
            text = false;
        }
        else
        {
            _metrics.Reply(_slug, "invalid");
            return;
        }

        // Only this tenant's connections are in the map: an id of another tenant's connection is unknown here.
        if (!_connections.TryGetValue(id.GetString()!, out var connection))
        {
            _metrics.Reply(_slug, "unknown_connection");
            return;
        }

        _metrics.Reply(_slug, connection.Reply(payload, text) ? "sent" : "slow_client");
    }

    /// <summary>The tenant's current webhook settings and its previous secret while that is kept; defaults once the tenant is gone.</summary>
    private (WebhookConfig Webhook, PreviousWebhookSecret? PreviousSecret) Tenant()
    {
        var tenant = _tenants(_tenantId);
        return (tenant?.Config.Delivery.Webhook ?? new WebhookConfig(), tenant?.Source.PreviousWebhookSecret);
    }

    private readonly record struct Pending(WebhookDelivery Connection, byte[] Payload, int Length, bool Text, long Sequence);

    private static partial class Log
    {
        [LoggerMessage(EventId = 5303, Level = LogLevel.Debug, Message = "Tenant {Tenant}: a batch of {Count} messages failed ({Outcome}) on attempt {Attempt}; next attempt in {DelayMs} ms")]
        public static partial void BatchFailed(ILogger logger, string tenant, int count, string outcome, int attempt, double delayMs);

        [LoggerMessage(EventId = 5304, Level = LogLevel.Warning, Message = "Tenant {Tenant}: the webhook queue stopped with {Count} messages not delivered")]
        public static partial void GaveUp(ILogger logger, string tenant, int count);
    }
}
