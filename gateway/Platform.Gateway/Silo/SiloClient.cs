using Platform.Contracts.Internal;

namespace Platform.Gateway.Silo;

/// <summary>
/// What this gateway asks of the cluster, through its link grain (keyed by the node id). A silo that answers null or
/// false no longer knows the node (<see cref="GatewayUnknownException"/>); a request it refuses as invalid throws
/// <see cref="Cluster.GatewayRequestRejectedException"/>; a cluster that cannot be reached throws what
/// <see cref="SiloFailure.IsUnreachable"/> recognises; any other failure a call comes back with throws
/// <see cref="SiloCallFailedException"/>.
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
        return await AskAsync(nameof(RegisterAsync), grain.RegisterAsync(request, observer).WaitAsync(cancellationToken));
    }

    /// <summary>Sends a heartbeat, which also renews the observer; <see cref="GatewayUnknownException"/> when the silo no longer knows this node.</summary>
    public async Task<HeartbeatResponse> HeartbeatAsync(HeartbeatRequest request, CancellationToken cancellationToken)
    {
        var (grain, observer) = cluster.Link;
        return await AskAsync(nameof(HeartbeatAsync), grain.HeartbeatAsync(request, observer).WaitAsync(HeartbeatTimeout, cancellationToken))
            ?? throw new GatewayUnknownException();
    }

    public Task<ConfigWatchResponse> WatchConfigAsync(long after, int waitSeconds, CancellationToken cancellationToken) =>
        AskAsync(nameof(WatchConfigAsync), cluster.Link.Grain.WatchConfigAsync(after, waitSeconds, cancellationToken));

    public async Task<LeaseSyncResponse> SyncLeasesAsync(LeaseSyncRequest request, CancellationToken cancellationToken) =>
        await AskAsync(nameof(SyncLeasesAsync), cluster.Link.Grain.SyncLeasesAsync(request).WaitAsync(HeartbeatTimeout, cancellationToken))
        ?? throw new GatewayUnknownException();

    public async Task PostConnectionEventsAsync(ConnectionEventBatch batch, CancellationToken cancellationToken)
    {
        if (!await AskAsync(nameof(PostConnectionEventsAsync), cluster.Link.Grain.PostConnectionEventsAsync(batch).WaitAsync(cancellationToken)))
        {
            throw new GatewayUnknownException();
        }
    }

    /// <summary>Hands a webhook status report to the silo (applied once per report id).</summary>
    public Task PostWebhookReportAsync(WebhookReport report, CancellationToken cancellationToken) =>
        AskAsync(nameof(PostWebhookReportAsync), cluster.Link.Grain.PostWebhookReportAsync(report).WaitAsync(HeartbeatTimeout, cancellationToken));

    /// <summary>Tells the silo this node is stopping; <see cref="GatewayUnknownException"/> when it already was not live.</summary>
    public async Task LeaveAsync(CancellationToken cancellationToken)
    {
        if (!await AskAsync(nameof(LeaveAsync), cluster.Link.Grain.LeaveAsync().WaitAsync(cancellationToken)))
        {
            throw new GatewayUnknownException();
        }
    }

    /// <summary>
    /// The outcome of one call: a failure the gateway's loops know (<see cref="SiloFailure"/>) or a cancellation comes
    /// through as it is; any other failure the call came back with becomes a <see cref="SiloCallFailedException"/>, so
    /// that an error of the silo's own, or an answer this build cannot read, never stops the gateway.
    /// </summary>
    internal static async Task<T> AskAsync<T>(string call, Task<T> pending)
    {
        try
        {
            return await pending;
        }
        catch (Exception ex) when (IsForeign(ex))
        {
            throw new SiloCallFailedException(call, ex);
        }
    }

    /// <inheritdoc cref="AskAsync{T}(string, Task{T})"/>
    internal static async Task AskAsync(string call, Task pending)
    {
        try
        {
            await pending;
        }
        catch (Exception ex) when (IsForeign(ex))
        {
            throw new SiloCallFailedException(call, ex);
        }
    }

    private static bool IsForeign(Exception exception) =>
        exception is not (OperationCanceledException or OutOfMemoryException) && !SiloFailure.IsExpected(exception);
}
