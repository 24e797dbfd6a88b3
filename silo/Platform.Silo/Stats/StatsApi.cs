using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Platform.Contracts.Stats;
using Platform.Silo.OpenApi;
using Platform.Silo.Security;
using Platform.Silo.Tenants;

namespace Platform.Silo.Stats;

/// <summary>Platform-wide figures for the operators' dashboard, computed by PostgreSQL over every tenant.</summary>
internal static class StatsApi
{
    private const int ExpiryHorizonDays = 30;
    private const int MaxExpiring = 100;

    public static RouteGroupBuilder MapStatsApi(this RouteGroupBuilder group)
    {
        group.MapGet("/stats", GetAsync)
            .RequireAuthorization(Claims.OperatorPolicy)
            .WithName("GetPlatformStats")
            .WithTags("Stats")
            .WithSummary("Platform-wide figures")
            .WithDescription("Tenants, open connections per protocol, the last hour per minute, and certificates expiring within 30 days.")
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.Stats);
        return group;
    }

    private static async Task<Ok<PlatformStatsResponse>> GetAsync(NpgsqlDataSource dataSource, PlatformClock time, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // One snapshot for every figure, so the totals and the chart agree with each other.
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        var tenants = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM tenants", transaction: transaction, cancellationToken: cancellationToken));
        var perProtocol = (await connection.QueryAsync<ProtocolRow>(new CommandDefinition(
            """
            SELECT protocol AS Protocol, count(*) AS Open
            FROM connections
            WHERE closed_at IS NULL
            GROUP BY protocol
            ORDER BY protocol
            """,
            transaction: transaction, cancellationToken: cancellationToken))).ToList();

        // Each minute's "open" is taken at its end (at now for the current minute). Closed connections stay
        // in the directory for ClosedConnectionRetentionMinutes (an hour by default), which this window relies on.
        var minutes = await connection.QueryAsync<MinuteRow>(new CommandDefinition(
            """
            WITH m AS (
                SELECT minute, LEAST(minute + interval '1 minute', @now) AS until
                FROM generate_series(date_trunc('minute', @now) - interval '60 minutes', date_trunc('minute', @now), interval '1 minute') AS minute
            )
            SELECT m.minute AS Minute,
                   count(c.id) FILTER (WHERE c.opened_at < m.until AND (c.closed_at IS NULL OR c.closed_at >= m.until)) AS Open,
                   count(c.id) FILTER (WHERE c.opened_at >= m.minute AND c.opened_at < m.until) AS Opened
            FROM m
            LEFT JOIN connections c ON c.opened_at < m.until AND (c.closed_at IS NULL OR c.closed_at >= m.minute)
            GROUP BY m.minute
            ORDER BY m.minute
            """,
            new { now }, transaction, cancellationToken: cancellationToken));
        var expiring = await connection.QueryAsync<ExpiringRow>(new CommandDefinition(
            """
            SELECT t.slug AS Tenant, c.id AS Id, c.subject AS Subject, c.host_names AS HostNames, c.not_after AS NotAfter
            FROM certificates c
            JOIN tenants t ON t.id = c.tenant_id
            WHERE c.not_after <= @horizon
            ORDER BY c.not_after, t.slug, c.id
            LIMIT @limit
            """,
            new { horizon = now.AddDays(ExpiryHorizonDays), limit = MaxExpiring }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);

        return TypedResults.Ok(new PlatformStatsResponse(
            now,
            tenants,
            perProtocol.Sum(p => p.Open),
            perProtocol.ToDictionary(p => p.Protocol, p => p.Open, StringComparer.Ordinal),
            minutes.Select(m => new MinuteStats(TenantStore.Utc(m.Minute), m.Open, m.Opened)).ToList(),
            expiring.Select(e => new ExpiringCertificate(e.Tenant, e.Id, e.Subject, e.HostNames, TenantStore.Utc(e.NotAfter))).ToList()));
    }

    private sealed record ProtocolRow(string Protocol, long Open);

    private sealed record MinuteRow(DateTime Minute, long Open, long Opened);

    // A class rather than a positional record: Dapper casts a text[] column into a property only.
    private sealed class ExpiringRow
    {
        public string Tenant { get; init; } = "";
        public Guid Id { get; init; }
        public string Subject { get; init; } = "";
        public string[] HostNames { get; init; } = [];
        public DateTime NotAfter { get; init; }
    }
}
