using Platform.Contracts.Internal;

namespace Platform.Gateway.Silo;

/// <summary>
/// What this gateway asks of the cluster, through its link grain (keyed by the node id). A silo that answers null or
/// false no longer knows the node (<see cref="GatewayUnknownException"/>); a request it refuses as invalid throws
/// <see cref="Cluster.GatewayRequestRejectedException"/>; a cluster that cannot be reached throws what
/// <see cref="SiloFailure.IsUnreachable"/> recognises.
/// </summary>
internal sealed class SiloClient(ClusterConnection cluster) : Admission.ILeaseSyncClient, Connections.IConnectionEventClient
{
    /// <summary>
    /// Longest wait for the answer to a heartbeat or a lease sync (a report of what the node holds, which the next one
    /// repeats); later it counts as a failed call (<see cref="TimeoutException"/>) and the next one goes out. Orleans' own
    /// response timeout (30 s) would let a call that was on a connection when it broke hang that long: the node would
    /// learn that the silo is unreachable, or back, only after it, and its lease loop, which runs one sync at a time,
    /// would not report the slots it holds to a silo that has just come back.
    /// </summary>
    public static readonly TimeSpan HeartbeatTimeout = TimeSpan.FromSeconds(5);

    public async Task<RegisterGatewayResponse> RegisterAsync(RegisterGatewayRequest request, CancellationToken cancellationToken)
    {
        var (grain, observer) = cluster.Link;
        return await grain.RegisterAsync(request, observer).WaitAsync(cancellationToken);
    }

    /// <summary>Sends a heartbeat, which also renews the observer; <see cref="GatewayUnknownException"/> when the silo no longer knows this node.</summary>
    public async Task<HeartbeatResponse> HeartbeatAsync(HeartbeatRequest request, CancellationToken cancellationToken)
    {
        var (grain, observer) = cluster.Link;
        return await grain.HeartbeatAsync(request, observer).WaitAsync(HeartbeatTimeout, cancellationToken) ?? throw new GatewayUnknownException();
    }

    public Task<ConfigWatchResponse> WatchConfigAsync(long after, int waitSeconds, CancellationToken cancellationToken) =>
        cluster.Link.Grain.WatchConfigAsync(after, waitSeconds, cancellationToken);

    public async Task<LeaseSyncResponse> SyncLeasesAsync(LeaseSyncRequest request, CancellationToken cancellationToken) =>
        await cluster.Link.Grain.SyncLeasesAsync(request).WaitAsync(HeartbeatTimeout, cancellationToken) ?? throw new GatewayUnknownException();

    public async Task PostConnectionEventsAsync(ConnectionEventBatch batch, CancellationToken cancellationToken)
    {
        if (!await cluster.Link.Grain.PostConnectionEventsAsync(batch).WaitAsync(cancellationToken))
        {
            throw new GatewayUnknownException();
        }
    }

    /// <summary>Hands a webhook status report to the silo (applied once per report id).</summary>
    public Task PostWebhookReportAsync(WebhookReport report, CancellationToken cancellationToken) =>
        cluster.Link.Grain.PostWebhookReportAsync(report).WaitAsync(HeartbeatTimeout, cancellationToken);

    /// <summary>Tells the silo this node is stopping; <see cref="GatewayUnknownException"/> when it already was not live.</summary>
    public async Task LeaveAsync(CancellationToken cancellationToken)
    {
        if (!await cluster.Link.Grain.LeaveAsync().WaitAsync(cancellationToken))
        {
            throw new GatewayUnknownException();
        }
    }
}
