using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Platform.Contracts.Connections;
using Platform.Contracts.Internal;
using Platform.Contracts.Problems;
using Platform.Silo.Problems;
using Platform.Silo.Quotas;

namespace Platform.Silo.Internal;

/// <summary>The silo side of the internal API gateways call (cluster secret only).</summary>
internal static class InternalApi
{
    private const int DefaultWaitSeconds = 30;
    private const int MaxWaitSeconds = 60;
    private const int MaxSlots = 100_000;

    public static WebApplication MapInternalApi(this WebApplication app)
    {
        var group = app.MapGroup("").RequireAuthorization(ClusterSecretAuthenticationHandler.Policy).ExcludeFromDescription();
        group.MapPost(InternalRoutes.Register, RegisterAsync);
        group.MapPost(InternalRoutes.Heartbeat, HeartbeatAsync);
        group.MapPost(InternalRoutes.Leave, LeaveAsync);
        group.MapGet(InternalRoutes.ConfigWatch, WatchAsync);
        group.MapPost(InternalRoutes.Leases, LeasesAsync);
        group.MapPost(InternalRoutes.ConnectionEvents, ConnectionEventsAsync);
        return app;
    }

    private static async Task<Results<Ok<RegisterGatewayResponse>, ProblemHttpResult>> RegisterAsync(
        RegisterGatewayRequest request, GatewayRegistry registry, PlatformOptions options)
    {
        var errors = GatewayRequestValidation.Validate(request);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        await registry.RegisterAsync(request);
        return TypedResults.Ok(new RegisterGatewayResponse(request.NodeId, options.HeartbeatIntervalSeconds, options.HeartbeatTimeoutSeconds));
    }

    private static async Task<Results<Ok<HeartbeatResponse>, ProblemHttpResult>> HeartbeatAsync(
        string gatewayId, HeartbeatRequest request, GatewayRegistry registry)
    {
        if (request.ConfigRevision < 0 || request.OpenConnections < 0)
        {
            return ProblemResults.Validation(request.ConfigRevision < 0 ? "configRevision" : "openConnections",
                FieldErrorCodes.OutOfRange, "Must not be negative.");
        }

        if (request.Refusals is { } refusals && Stats.RefusalStore.Validate(refusals) is { Count: > 0 } errors)
        {
            return ProblemResults.Validation(errors);
        }

        var answer = await registry.HeartbeatAsync(gatewayId, request);
        return answer is null ? GatewayUnknown(gatewayId) : TypedResults.Ok(answer);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> LeaveAsync(string gatewayId, GatewayRegistry registry) =>
        await registry.LeaveAsync(gatewayId) ? TypedResults.NoContent() : GatewayUnknown(gatewayId);

    private static async Task<Results<Ok<ConfigWatchResponse>, ProblemHttpResult>> WatchAsync(
        ConfigWatch watch, CancellationToken cancellationToken, [FromQuery] long after = 0, [FromQuery] int waitSeconds = DefaultWaitSeconds)
    {
        if (after < 0)
        {
            return ProblemResults.Validation("after", FieldErrorCodes.OutOfRange, "The revision cursor must not be negative.");
        }

        if (waitSeconds is < 0 or > MaxWaitSeconds)
        {
            return ProblemResults.Validation("waitSeconds", FieldErrorCodes.OutOfRange, $"Must be between 0 and {MaxWaitSeconds}.");
        }

        return TypedResults.Ok(await watch.WaitAsync(after, TimeSpan.FromSeconds(waitSeconds), cancellationToken));
    }

    private static async Task<Results<Ok<LeaseSyncResponse>, ProblemHttpResult>> LeasesAsync(
        string gatewayId, LeaseSyncRequest request, IGrainFactory grains)
    {
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
                return ProblemResults.Validation($"leases[{i}].{field}", FieldErrorCodes.OutOfRange, $"Must be between 0 and {MaxSlots} (was {value}).");
            }

            wants[want.TenantId] = want;
        }

        // One grain per tenant, all at once; each stores its grant before it answers.
        var answers = await Task.WhenAll(wants.Values.Select(w => grains.GetGrain<ITenantQuotaGrain>(w.TenantId)
            .SyncAsync(new QuotaRequest(gatewayId, w.Slots, w.InUse, w.Held, w.Waiting))));
        if (answers.Any(a => !a.GatewayLive))
        {
            return GatewayUnknown(gatewayId);
        }

        return TypedResults.Ok(new LeaseSyncResponse(
            wants.Keys.Zip(answers, static (tenantId, a) => new LeaseGrant(tenantId, a.Slots, a.MaxConnections, a.Reclaiming)).ToList()));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> ConnectionEventsAsync(
        string gatewayId, ConnectionEventBatch batch, ConnectionEventWriter writer, CancellationToken cancellationToken)
    {
        if (!ConnectionId.IsValidNodeId(gatewayId))
        {
            return GatewayUnknown(gatewayId);
        }

        return await writer.ApplyAsync(gatewayId, batch, cancellationToken) ? TypedResults.NoContent() : GatewayUnknown(gatewayId);
    }

    private static ProblemHttpResult GatewayUnknown(string gatewayId) =>
        ProblemResults.Problem(StatusCodes.Status404NotFound, ErrorCodes.GatewayUnknown, "Gateway unknown",
            $"Gateway '{gatewayId}' is not registered or was declared dead; register again.");
}
