using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Orleans.Runtime;
using Platform.Contracts.Gateways;
using Platform.Contracts.Problems;
using Platform.Contracts.Tenants;
using Platform.Silo.Api;
using Platform.Silo.OpenApi;
using Platform.Silo.Problems;
using Platform.Silo.Security;

namespace Platform.Silo.Cluster;

/// <summary>Operator view of the control plane's silos, read from the cluster's membership table.</summary>
internal static class SilosApi
{
    public static RouteGroupBuilder MapSilosApi(this RouteGroupBuilder group)
    {
        group.MapGet("/silos", ListAsync)
            .RequireAuthorization(Claims.OperatorPolicy)
            .WithTags("Gateways")
            .WithName("ListSilos")
            .WithSummary("List the control plane's silos")
            .WithDescription("The silos of the control plane's Orleans cluster as its membership table records them: live ones first, then those that stopped or were declared dead.")
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.Silos);
        return group;
    }

    private static async Task<Results<Ok<Page<SiloResponse>>, ProblemHttpResult>> ListAsync(
        [FromQuery] string? offset, [FromQuery] string? limit, NpgsqlDataSource dataSource, PlatformOptions options, CancellationToken cancellationToken)
    {
        var errors = new List<FieldError>();
        var (o, l) = Paging.Parse(offset, limit, errors);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var clusterId = options.Cluster.ClusterId;
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM cluster_silos WHERE cluster_id = @clusterId", new { clusterId }, cancellationToken: cancellationToken));
        // Live silos first, then the dead, newest start first within each.
        var rows = await connection.QueryAsync<Row>(new CommandDefinition(
            """
            SELECT silo_name AS Name, host_name AS HostName, host(address) AS Address, port AS SiloPort, gateway_port AS GatewayPort,
                   generation AS Generation, status AS Status, start_time AS StartedAt, i_am_alive_time AS LastAliveAt,
                   jsonb_array_length(suspect_times) AS SuspectedBy
            FROM cluster_silos WHERE cluster_id = @clusterId
            ORDER BY (status = @dead), start_time DESC, address, port
            OFFSET @o LIMIT @l
            """,
            new { clusterId, dead = (int)SiloStatus.Dead, o, l }, cancellationToken: cancellationToken));
        return TypedResults.Ok(new Page<SiloResponse>(rows.Select(r => r.ToResponse()).ToList(), total, o, l));
    }

    /// <summary>The API's name for an Orleans silo status.</summary>
    public static string StatusName(SiloStatus status) => status switch
    {
        SiloStatus.Created => SiloStatuses.Created,
        SiloStatus.Joining => SiloStatuses.Joining,
        SiloStatus.Active => SiloStatuses.Active,
        SiloStatus.ShuttingDown => SiloStatuses.ShuttingDown,
        SiloStatus.Stopping => SiloStatuses.Stopping,
        _ => SiloStatuses.Dead,
    };

    private sealed class Row
    {
        public string Name { get; init; } = "";
        public string HostName { get; init; } = "";
        public string Address { get; init; } = "";
        public int SiloPort { get; init; }
        public int GatewayPort { get; init; }
        public int Generation { get; init; }
        public int Status { get; init; }
        public DateTime StartedAt { get; init; }
        public DateTime LastAliveAt { get; init; }
        public int SuspectedBy { get; init; }

        public SiloResponse ToResponse() => new(
            Name, HostName, Address, SiloPort, GatewayPort, Generation, StatusName((SiloStatus)Status),
            new DateTimeOffset(DateTime.SpecifyKind(StartedAt, DateTimeKind.Utc)), new DateTimeOffset(DateTime.SpecifyKind(LastAliveAt, DateTimeKind.Utc)),
            SuspectedBy);
    }
}
