using System.Diagnostics.Metrics;
using Platform.Gateway.Admission;

namespace Platform.Gateway.Webhooks;

/// <summary>The webhook delivery's instruments, on the gateway's meter (docs/metrics.md).</summary>
internal sealed class WebhookMetrics
{
    private readonly Counter<long> _requests;
    private readonly Counter<long> _messages;
    private readonly Counter<long> _replies;
    private readonly Counter<long> _backlogClosed;
    private readonly Counter<long> _discardedAfterBacklog;

    public WebhookMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(GatewayMetrics.MeterName);
        _requests = meter.CreateCounter<long>("platform.gateway.webhook.requests", "{request}",
            "Webhook requests by tenant, event (connect, messages) and outcome (ok, a status such as status_500, timeout, forbidden, unreachable, redirect, too_large, not_validated, invalid_answer, no_secret).");
        _messages = meter.CreateCounter<long>("platform.gateway.webhook.messages", "{message}", "Client messages a tenant's webhook took (2xx), per tenant.");
        _replies = meter.CreateCounter<long>("platform.gateway.webhook.replies", "{message}",
            "Messages in webhook answers, per tenant and outcome (sent, unknown_connection, invalid).");
        _backlogClosed = meter.CreateCounter<long>("platform.gateway.webhook.backlog_closed", "{connection}",
            "Connections closed with 4007 because the webhook did not take their messages within backpressureTimeoutSeconds, per tenant.");
        _discardedAfterBacklog = meter.CreateCounter<long>("platform.gateway.webhook.discarded_after_backlog", "{message}",
            "Client messages read after their connection was being closed with 4007, not taken into the webhook queue, per tenant.");
    }

    public void Request(string tenant, string type, string outcome) =>
        _requests.Add(1, new("tenant", tenant), new("event", type), new("outcome", outcome));

    public void Delivered(string tenant, int messages) => _messages.Add(messages, new KeyValuePair<string, object?>("tenant", tenant));

    public void Reply(string tenant, string outcome) => _replies.Add(1, new("tenant", tenant), new("outcome", outcome));

    public void BacklogClosed(string tenant) => _backlogClosed.Add(1, new KeyValuePair<string, object?>("tenant", tenant));

    public void DiscardedAfterBacklog(string tenant) => _discardedAfterBacklog.Add(1, new KeyValuePair<string, object?>("tenant", tenant));
}
