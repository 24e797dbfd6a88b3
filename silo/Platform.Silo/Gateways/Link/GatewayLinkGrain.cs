using Npgsql;
using Orleans.Concurrency;
using Platform.Cluster;
using Platform.Contracts.Connections;
using Platform.Contracts.Internal;
using Platform.Contracts.Problems;
using Platform.Silo.Gateways.Nodes;
using Platform.Silo.Internal;
using Platform.Silo.Quotas;

namespace Platform.Silo.Gateways.Link;

/// <summary>
/// A gateway's way into the cluster (key: its node id). Holds nothing: every call is checked here and passed to the
/// state it concerns, so it runs on the silo the gateway is connected to, as many at once as arrive (a config watch
/// waits for a change without holding up the node's other calls).
/// </summary>
[StatelessWorker, Reentrant]
internal sealed class GatewayLinkGrain(
    GatewayRegistry registry,
    ConnectionEventWriter events,
    ConfigWatch watch,
    PlatformOptions options,
    NpgsqlDataSource dataSource,
    PlatformClock clock,
    IHostApplicationLifetime lifetime) : Grain, IGatewayLinkGrain
{
    public const int MaxWaitSeconds = 60;
    public const int MaxSlots = 100_000;

    private string NodeId => this.GetPrimaryKeyString();

    public async Task<RegisterGatewayResponse> RegisterAsync(RegisterGatewayRequest request, IGatewayObserver commands)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(commands);
        var errors = GatewayRequestValidation.Validate(request);
        if (request.NodeId != NodeId)
        {
            errors.Add(new("nodeId", FieldErrorCodes.InvalidFormat, "The node id must be the key of the grain it is sent to."));
        }

        if (errors.Count > 0)
        {
            throw new GatewayRequestRejectedException(errors);
        }

        await registry.RegisterAsync(request, commands);
        return new RegisterGatewayResponse(NodeId, options.HeartbeatIntervalSeconds, options.HeartbeatTimeoutSeconds);
    }

    public Task<HeartbeatResponse?> HeartbeatAsync(HeartbeatRequest request, IGatewayObserver commands)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(commands);
        if (request.ConfigRevision < 0 || request.OpenConnections < 0)
        {
            throw new GatewayRequestRejectedException([new FieldError(request.ConfigRevision < 0 ? "configRevision" : "openConnections",
                FieldErrorCodes.OutOfRange, "Must not be negative.")]);
        }

        if (request.Refusals is { } refusals && Stats.RefusalStore.Validate(refusals) is { Count: > 0 } errors)
        {
            throw new GatewayRequestRejectedException(errors);
        }

        return registry.HeartbeatAsync(NodeId, request, commands);
    }

    public Task<bool> LeaveAsync() => registry.LeaveAsync(NodeId);

    public async Task<LeaseSyncResponse?> SyncLeasesAsync(LeaseSyncRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        // The last want per tenant counts, as if the entries had been sent one after another.
        var wants = new Dictionary<Guid, LeaseWant>();
        for (var i = 0; i < request.Leases.Count; i++)
        {
            var want = request.Leases[i];
            var (field, value) = want switch
            {
                { Slots: < 0 or > MaxSlots } => ("slots", want.Slots),
                { InUse: < 0 or > MaxSlots } => ("inUse", want.InUse),
                { Held: < 0 or > MaxSlots } => ("held", want.Held.Value),
                { Waiting: < 0 or > MaxSlots } => ("waiting", want.Waiting),
                _ => (null, 0),
            };
            if (field is not null)
            {
                throw new GatewayRequestRejectedException([new FieldError($"leases[{i}].{field}", FieldErrorCodes.OutOfRange,
                    $"Must be between 0 and {MaxSlots} (was {value}).")]);
            }

            wants[want.TenantId] = want;
        }

        // One grain per tenant, all at once; each stores its grant before it answers.
        var answers = await Task.WhenAll(wants.Values.Select(w => GrainFactory.GetGrain<ITenantQuotaGrain>(w.TenantId)
            .SyncAsync(new QuotaRequest(NodeId, w.Slots, w.InUse, w.Held, w.Waiting))));
        if (answers.Any(a => !a.GatewayLive))
        {
            return null;
        }

        return new LeaseSyncResponse(
            wants.Keys.Zip(answers, static (tenantId, a) => new LeaseGrant(tenantId, a.Slots, a.MaxConnections, a.Reclaiming)).ToList());
    }

    public async Task<bool> PostConnectionEventsAsync(ConnectionEventBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return ConnectionId.IsValidNodeId(NodeId) && await events.ApplyAsync(NodeId, batch, lifetime.ApplicationStopping);
    }

    public async Task PostWebhookReportAsync(WebhookReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (Webhooks.WebhookStatusStore.Validate(report) is { Count: > 0 } errors)
        {
            throw new GatewayRequestRejectedException(errors);
        }

        await Webhooks.WebhookStatusStore.ApplyAsync(dataSource, NodeId, report, clock.GetUtcNow(), lifetime.ApplicationStopping);
    }

    public async Task<ConfigWatchResponse> WatchConfigAsync(long after, int waitSeconds, CancellationToken cancellationToken)
    {
        if (after < 0)
        {
            throw new GatewayRequestRejectedException([new FieldError("after", FieldErrorCodes.OutOfRange, "The revision cursor must not be negative.")]);
        }

        if (waitSeconds is < 0 or > MaxWaitSeconds)
        {
            throw new GatewayRequestRejectedException([new FieldError("waitSeconds", FieldErrorCodes.OutOfRange, $"Must be between 0 and {MaxWaitSeconds}.")]);
        }

        // A silo that stops answers the waiting watches at once (with no change) instead of holding its shutdown.
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifetime.ApplicationStopping);
        try
        {
            return await watch.WaitAsync(after, TimeSpan.FromSeconds(waitSeconds), stopping.Token);
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return new ConfigWatchResponse(after, false, [], []);
        }
    }
}
