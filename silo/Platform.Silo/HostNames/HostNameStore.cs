using System.Data.Common;
using Dapper;
using Platform.Contracts.HostNames;

namespace Platform.Silo.HostNames;

/// <summary>Reads of <c>host_names</c> for the REST API, and the record of a failed DNS check.</summary>
internal static class HostNameStore
{
    /// <summary>TXT record that proves control of <paramref name="name"/>; a wildcard <c>*.x.y</c> is proven at <c>x.y</c>.</summary>
    public static string ChallengeRecord(string name) =>
        "_platform-challenge." + (name.StartsWith("*.", StringComparison.Ordinal) ? name[2..] : name);

    private const string Columns = """
        host_name AS Name, sources AS Sources, status AS Status, challenge_token AS ChallengeToken,
        verified_at AS VerifiedAt, verified_by AS VerifiedBy, last_check AS LastCheck
        """;

    public static async Task<(IReadOnlyList<HostNameResponse> Items, long Total)> ListAsync(
        DbConnection connection, Guid tenantId, int offset, int limit, CancellationToken cancellationToken)
    {
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM host_names WHERE tenant_id = @tenantId", new { tenantId }, cancellationToken: cancellationToken));
        var rows = await connection.QueryAsync<Row>(new CommandDefinition(
            $"""
            SELECT {Columns}
            FROM host_names WHERE tenant_id = @tenantId
            ORDER BY host_name
            OFFSET @offset LIMIT @limit
            """,
            new { tenantId, offset, limit }, cancellationToken: cancellationToken));
        return (rows.Select(r => r.ToResponse()).ToList(), total);
    }

    /// <summary>One claim of the tenant, locked when <paramref name="transaction"/> is given.</summary>
    public static async Task<HostNameResponse?> GetAsync(
        DbConnection connection, Guid tenantId, string name, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        var row = await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
            $"""
            SELECT {Columns}
            FROM host_names WHERE tenant_id = @tenantId AND host_name = @name
            {(transaction is null ? "" : "FOR UPDATE")}
            """,
            new { tenantId, name }, transaction, cancellationToken: cancellationToken));
        return row?.ToResponse();
    }

    /// <summary>Stores what a DNS check that did not prove the name found.</summary>
    public static async Task RecordCheckAsync(
        DbConnection connection, Guid tenantId, string name, string outcome, DateTimeOffset now, CancellationToken cancellationToken) =>
        await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE host_names SET last_check = @outcome, last_check_at = @now
            WHERE tenant_id = @tenantId AND host_name = @name AND status = 'pending'
            """,
            new { tenantId, name, outcome, now }, cancellationToken: cancellationToken));

    private sealed class Row
    {
        public string Name { get; init; } = "";

        public string[] Sources { get; init; } = [];

        public string Status { get; init; } = "";

        public string? ChallengeToken { get; init; }

        public DateTime? VerifiedAt { get; init; }

        public string? VerifiedBy { get; init; }

        public string? LastCheck { get; init; }

        // Platform names need no proof, so they show no challenge even when one was issued before.
        public HostNameResponse ToResponse()
        {
            var platform = VerifiedBy == "platform";
            return new HostNameResponse(
                Name, Sources, Status,
                platform ? null : ChallengeRecord(Name),
                platform ? null : ChallengeToken,
                VerifiedAt is { } at ? new DateTimeOffset(DateTime.SpecifyKind(at, DateTimeKind.Utc)) : null,
                VerifiedBy,
                LastCheck);
        }
    }
}
