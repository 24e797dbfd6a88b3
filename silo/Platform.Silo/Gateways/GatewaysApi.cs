using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Platform.Contracts.Connections;
using Platform.Contracts.Gateways;
using Platform.Contracts.Problems;
using Platform.Contracts.Tenants;
using Platform.Silo.Api;
using Platform.Silo.Gateways.Nodes;
using Platform.Silo.OpenApi;
using Platform.Silo.Problems;
using Platform.Silo.Security;

namespace Platform.Silo.Gateways;

/// <summary>Operator view of gateway nodes: list and drain.</summary>
internal static partial class GatewaysApi
{
    private const int MaxDrainDeadlineSeconds = 24 * 3600;

    public static RouteGroupBuilder MapGatewaysApi(this RouteGroupBuilder group)
    {
        var gateways = group.MapGroup("/gateways").RequireAuthorization(Claims.OperatorPolicy).WithTags("Gateways");
        gateways.MapGet("", ListAsync)
            .WithName("ListGateways")
            .WithSummary("List gateway nodes")
            .DocumentedBody<Page<GatewayResponse>>(StatusCodes.Status200OK)
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.Gateways);
        gateways.MapPost("/{id}/drain", DrainAsync)
            .WithName("DrainGateway")
            .WithSummary("Drain a gateway")
            .WithDescription("The gateway refuses new connections and lets open ones finish; at the deadline (0: none) it closes the rest.")
            .Problem(StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed)
            .Problem(StatusCodes.Status404NotFound, ErrorCodes.NotFound)
            .Problem(StatusCodes.Status409Conflict, ErrorCodes.GatewayUnknown)
            .RequestExample(ApiExamples.DrainGateway)
            .ResponseExample(StatusCodes.Status202Accepted, ApiExamples.Gateway with { Status = GatewayStatuses.Draining });
        return group;
    }

    private static async Task<Results<Ok<Page<GatewayResponse>>, ProblemHttpResult>> ListAsync(
        string? offset, string? limit, NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        var errors = new List<FieldError>();
        var (from, count) = Paging.Parse(offset, limit, errors);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM gateway_nodes", cancellationToken: cancellationToken));
        var rows = await connection.QueryAsync<GatewayRow>(new CommandDefinition(
            $"""
            {GatewaySelect}
            ORDER BY g.id
            OFFSET @from LIMIT @count
            """,
            new { from, count }, cancellationToken: cancellationToken));
        return TypedResults.Ok(new Page<GatewayResponse>(rows.Select(r => r.ToResponse()).ToList(), total, from, count));
    }

    private static async Task<Results<Accepted<GatewayResponse>, ProblemHttpResult>> DrainAsync(
        string id, DrainGatewayRequest request, HttpContext context, NpgsqlDataSource dataSource, IGrainFactory grains,
        ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        if (request.DeadlineSeconds is < 0 or > MaxDrainDeadlineSeconds)
        {
            return ProblemResults.Validation("deadlineSeconds", FieldErrorCodes.OutOfRange, $"Must be between 0 and {MaxDrainDeadlineSeconds} (0 waits indefinitely).");
        }

        // A registered node's id is always valid: anything else names no node, and activates no grain.
        var answer = ConnectionId.IsValidNodeId(id)
            ? await grains.GetGrain<IGatewayGrain>(id).DrainAsync(new GatewayDrain(request.DeadlineSeconds, context.ActorName()))
            : new GatewayDrainAnswer(null, false, false);
        if (answer.Status is null)
        {
            return ProblemResults.NotFound($"Gateway '{id}'");
        }

        if (!answer.Drained)
        {
            return ProblemResults.Problem(StatusCodes.Status409Conflict, ErrorCodes.GatewayUnknown, "Gateway not running",
                answer.Status == GatewayStatuses.Dead
                    ? $"Gateway '{id}' stopped heartbeating and was declared dead; there is nothing to drain."
                    : $"Gateway '{id}' has stopped; there is nothing to drain.");
        }

        if (!answer.Delivered)
        {
            LogDrainNotDelivered(loggerFactory.CreateLogger(typeof(GatewaysApi)), id);
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleAsync<GatewayRow>(new CommandDefinition(
            $"""
            {GatewaySelect}
            WHERE g.id = @id
            """,
            new { id }, cancellationToken: cancellationToken));
        return TypedResults.Accepted($"/v1/gateways/{id}", row.ToResponse());
    }

    private const string GatewaySelect = """
        SELECT g.id AS Id, g.version AS Version, g.listeners AS Listeners, g.status AS Status,
               g.started_at AS StartedAt, g.last_heartbeat_at AS LastHeartbeatAt, g.config_revision AS ConfigRevision,
               (SELECT count(*) FROM connections c WHERE c.gateway_id = g.id AND c.closed_at IS NULL) AS Connections
        FROM gateway_nodes g
        """;

    // A class rather than a positional record: text[] columns read as System.Array, which Dapper
    // casts into a property but cannot match against a constructor parameter.
    private sealed class GatewayRow
    {
        public string Id { get; init; } = "";
        public string Version { get; init; } = "";
        public string[] Listeners { get; init; } = [];
        public string Status { get; init; } = "";
        public DateTime StartedAt { get; init; }
        public DateTime LastHeartbeatAt { get; init; }
        public long ConfigRevision { get; init; }
        public long Connections { get; init; }

        public GatewayResponse ToResponse() => new(
            Id, Version, Listeners, Status, Utc(StartedAt), Utc(LastHeartbeatAt), Connections, ConfigRevision);

        private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));
    }

    [LoggerMessage(EventId = 3500, Level = LogLevel.Warning, Message = "Drain of gateway {GatewayId} recorded but not delivered; it learns of it from its next heartbeat")]
    private static partial void LogDrainNotDelivered(ILogger logger, string gatewayId);
}
