using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Platform.Contracts.Connections;
using Platform.Contracts.Internal;
using Platform.Contracts.Problems;
using Platform.Silo.Problems;

namespace Platform.Silo.Internal;

/// <summary>The silo side of the internal API gateways call (cluster secret only).</summary>
internal static class InternalApi
{
    private const int DefaultWaitSeconds = 30;
    private const int MaxWaitSeconds = 60;

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
        RegisterGatewayRequest request, GatewayRegistry registry, PlatformOptions options, CancellationToken cancellationToken)
    {
        var errors = GatewayRequestValidation.Validate(request);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        await registry.RegisterAsync(request, cancellationToken);
        return TypedResults.Ok(new RegisterGatewayResponse(request.NodeId, options.HeartbeatIntervalSeconds, options.HeartbeatTimeoutSeconds));
    }

    private static async Task<Results<Ok<HeartbeatResponse>, ProblemHttpResult>> HeartbeatAsync(
        string gatewayId, HeartbeatRequest request, GatewayRegistry registry, CancellationToken cancellationToken)
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

        var answer = await registry.HeartbeatAsync(gatewayId, request, cancellationToken);
        return answer is null ? GatewayUnknown(gatewayId) : TypedResults.Ok(answer);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> LeaveAsync(string gatewayId, GatewayRegistry registry, CancellationToken cancellationToken) =>
        await registry.LeaveAsync(gatewayId, cancellationToken) ? TypedResults.NoContent() : GatewayUnknown(gatewayId);

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
        string gatewayId, LeaseSyncRequest request, LeaseStore leases, CancellationToken cancellationToken)
    {
        for (var i = 0; i < request.Leases.Count; i++)
        {
            if (request.Leases[i].Slots is < 0 or > 100_000)
            {
                return ProblemResults.Validation($"leases[{i}].slots", FieldErrorCodes.OutOfRange, "Slots must be between 0 and 100000.");
            }
        }

        var answer = await leases.SyncAsync(gatewayId, request, cancellationToken);
        return answer is null ? GatewayUnknown(gatewayId) : TypedResults.Ok(answer);
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
