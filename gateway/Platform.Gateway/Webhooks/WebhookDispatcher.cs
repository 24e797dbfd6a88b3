using Microsoft.Extensions.Logging;
using Platform.Contracts.Config;
using Platform.Gateway.Delivery;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Webhooks;

/// <summary>
/// The gateway's webhook delivery: the blocking <c>connect</c> event, and one <see cref="TenantWebhookQueue"/> per
/// tenant with connections on this gateway, created with the tenant's first webhook connection and drained after its
/// last.
/// </summary>
internal sealed class WebhookDispatcher(
    WebhookHttp http, TenantSnapshotStore snapshots, WebhookMetrics metrics, WebhookStatusLedger ledger, TimeProvider time, ILogger<WebhookDispatcher> logger) : IAsyncDisposable
{
    /// <summary>How long a tenant's queue may go on sending after its last connection has gone.</summary>
    public static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(30);

    private readonly Lock _lock = new();
    private readonly Dictionary<Guid, TenantWebhookQueue> _queues = [];
    private readonly List<Task> _draining = [];

    /// <summary>Sends the connect event of <paramref name="facts"/> and reads the answer (no default applied).</summary>
    public async Task<ConnectDecision> ConnectAsync(TenantRuntime tenant, WebhookConfig webhook, ConnectionFacts facts, CancellationToken cancellationToken)
    {
        var eventId = Guid.NewGuid().ToString();
        var body = WebhookConnectEvent.Body(eventId, tenant.Slug, facts, time.GetUtcNow());
        var answer = await http.PostAsync(tenant.Slug, webhook, tenant.Source.PreviousWebhookSecret, WebhookConnectEvent.Type, eventId, body, cancellationToken);
        var decision = WebhookConnectEvent.Read(answer, facts.Request?.SubProtocols ?? []);
        metrics.Request(tenant.Slug, WebhookConnectEvent.Type, decision.Failure ?? (decision.Accept ? "ok" : "rejected"));
        if (decision.Failure is { } failure)
        {
            var (kind, status, cause) = WebhookStatusLedger.Classify(failure, answer.Status);
            ledger.Failed(tenant.Id, WebhookConnectEvent.Type, kind, status, webhook.Url, cause);
        }
        else if (decision.Forward is null)
        {
            // An answer naming a forward target is counted once the target has passed the egress policy (ForwardOutcome).
            ledger.Delivered(tenant.Id, WebhookConnectEvent.Type, webhook.Url);
        }

        return decision;
    }

    /// <summary>
    /// Counts a connect answer that named a forward target: delivered, or <c>forbidden_override</c> when the egress
    /// policy refused the target (the connection is refused as a forbidden backend).
    /// </summary>
    public void ForwardOutcome(TenantRuntime tenant, WebhookConfig webhook, bool forbidden)
    {
        if (forbidden)
        {
            ledger.Failed(tenant.Id, WebhookConnectEvent.Type, Contracts.Webhooks.WebhookFailureKinds.ForbiddenOverride, null, webhook.Url);
        }
        else
        {
            ledger.Delivered(tenant.Id, WebhookConnectEvent.Type, webhook.Url);
        }
    }

    /// <summary>The delivery of an accepted connection.</summary>
    public WebhookDelivery Open(TenantRuntime tenant, WebhookConfig webhook, ConnectionFacts facts, ConnectDecision decision)
    {
        TenantWebhookQueue queue;
        lock (_lock)
        {
            if (!_queues.TryGetValue(tenant.Id, out queue!))
            {
                queue = new TenantWebhookQueue(tenant, Tenant, http, metrics, ledger, time, logger);
                _queues.Add(tenant.Id, queue);
                queue.Start();
            }

            queue.References++;
        }

        var delivery = new WebhookDelivery(
            queue, facts.ConnectionId, facts.Listener, decision.SubProtocol, decision.Metadata,
            TimeSpan.FromSeconds(webhook.BackpressureTimeoutSeconds), () => metrics.BacklogClosed(tenant.Slug),
            () => metrics.DiscardedAfterBacklog(tenant.Slug), d => Release(tenant.Id, queue, d));
        queue.Attach(delivery);
        return delivery;
    }

    private TenantRuntime? Tenant(Guid id) => snapshots.Current.ById.TryGetValue(id, out var tenant) ? tenant : null;

    private void Release(Guid tenantId, TenantWebhookQueue queue, WebhookDelivery delivery)
    {
        queue.Detach(delivery);
        lock (_lock)
        {
            if (--queue.References > 0)
            {
                return;
            }

            _queues.Remove(tenantId);
            _draining.RemoveAll(static t => t.IsCompleted);
            _draining.Add(queue.CompleteAsync(DrainLimit));
        }
    }

    public async ValueTask DisposeAsync()
    {
        List<Task> waits;
        lock (_lock)
        {
            waits = [.. _draining, .. _queues.Values.Select(static q => q.CompleteAsync(TimeSpan.FromSeconds(5)))];
            _queues.Clear();
        }

        await Task.WhenAll(waits);
    }
}
