using Platform.Contracts.Internal;

namespace Platform.Cluster;

/// <summary>
/// Everything a gateway asks of the cluster, keyed by the gateway's node id: it registers, heartbeats, leaves, syncs
/// leases, reports connection events and watches the config through this grain. Each call is answered on the silo the
/// gateway is connected to; the grain holds no state and passes each call to the state it concerns (the node's
/// <c>GatewayGrain</c>, each tenant's quota and connections grains, the config revisions).
/// </summary>
[Alias("platform.gateway.link")]
public interface IGatewayLinkGrain : IGrainWithStringKey
{
    /// <summary>
    /// Registers the node as up (a node id seen before restarted: its connections close and its leases go) and takes
    /// <paramref name="commands"/> as the way to reach it.
    /// </summary>
    /// <exception cref="GatewayRequestRejectedException">The request is invalid.</exception>
    [Alias("register")]
    Task<RegisterGatewayResponse> RegisterAsync(RegisterGatewayRequest request, IGatewayObserver commands);

    /// <summary>
    /// Records a heartbeat and its refusal batch and renews <paramref name="commands"/>; null when the node is not live
    /// (never registered, or declared dead): it must register again.
    /// </summary>
    /// <exception cref="GatewayRequestRejectedException">The request is invalid (for example its refusal batch).</exception>
    [Alias("heartbeat")]
    Task<HeartbeatResponse?> HeartbeatAsync(HeartbeatRequest request, IGatewayObserver commands);

    /// <summary>The node stops cleanly: leases freed, connections it still lists closed; false when it was not live.</summary>
    [Alias("leave")]
    Task<bool> LeaveAsync();

    /// <summary>States the slots wanted per tenant; null when the node is not live.</summary>
    /// <exception cref="GatewayRequestRejectedException">A want is out of range.</exception>
    [Alias("leases")]
    Task<LeaseSyncResponse?> SyncLeasesAsync(LeaseSyncRequest request);

    /// <summary>Stores connection events (idempotent per event); false when the node is not live.</summary>
    /// <exception cref="GatewayRequestRejectedException">The batch is invalid.</exception>
    [Alias("connection-events")]
    Task<bool> PostConnectionEventsAsync(ConnectionEventBatch batch);

    /// <summary>Stores webhook delivery outcomes (applied once per report id, so a report sent again counts once).</summary>
    /// <exception cref="GatewayRequestRejectedException">The report is invalid.</exception>
    [Alias("webhook-report")]
    Task PostWebhookReportAsync(WebhookReport report);

    /// <summary>
    /// The config changes after revision <paramref name="after"/> (a full snapshot when the cursor is 0, ahead of the
    /// silo or behind its horizon), waiting up to <paramref name="waitSeconds"/> (0..60) for one.
    /// </summary>
    /// <exception cref="GatewayRequestRejectedException">The cursor or the wait is out of range.</exception>
    [Alias("watch-config"), ResponseTimeout("00:01:30")]
    Task<ConfigWatchResponse> WatchConfigAsync(long after, int waitSeconds, CancellationToken cancellationToken);
}
