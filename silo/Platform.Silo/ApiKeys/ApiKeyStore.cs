using System.Data.Common;
using Dapper;
using Platform.Contracts.ApiKeys;

namespace Platform.Silo.ApiKeys;

/// <summary>
/// Rows of <c>api_keys</c>. Only the SHA-256 of a key's secret part is stored, exactly what
/// <see cref="Security.ApiKeyAuthenticationHandler"/> compares, so the secret cannot be shown again.
/// </summary>
internal static class ApiKeyStore
{
    private const string Columns = "id AS Id, name AS Name, prefix AS Prefix, created_at AS CreatedAt, last_used_at AS LastUsedAt, revoked_at AS RevokedAt";

    public static async Task InsertAsync(
        DbConnection connection, DbTransaction transaction, Guid id, Guid tenantId, string name, string prefix, byte[] secretHash,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        var rows = await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, created_at)
            VALUES (@id, @tenantId, @name, @prefix, @secretHash, @now)
            """,
            new { id, tenantId, name, prefix, secretHash, now }, transaction, cancellationToken: cancellationToken));
        if (rows != 1)
        {
            throw new InvalidOperationException($"Inserting API key {id} affected {rows} rows.");
        }
    }

    public static async Task<(IReadOnlyList<ApiKeyResponse> Items, long Total)> ListAsync(
        DbConnection connection, Guid tenantId, int offset, int limit, CancellationToken cancellationToken)
    {
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM api_keys WHERE tenant_id = @tenantId", new { tenantId }, cancellationToken: cancellationToken));
        var rows = await connection.QueryAsync<KeyRow>(new CommandDefinition(
            $"""
            SELECT {Columns}
            FROM api_keys WHERE tenant_id = @tenantId
            ORDER BY created_at, id
            OFFSET @offset LIMIT @limit
            """,
            new { tenantId, offset, limit }, cancellationToken: cancellationToken));
        return (rows.Select(r => r.ToResponse()).ToList(), total);
    }

    public static async Task<ApiKeyResponse?> GetAsync(
        DbConnection connection, DbTransaction? transaction, Guid tenantId, Guid id, CancellationToken cancellationToken) =>
        (await connection.QuerySingleOrDefaultAsync<KeyRow>(new CommandDefinition(
            $"SELECT {Columns} FROM api_keys WHERE tenant_id = @tenantId AND id = @id",
            new { tenantId, id }, transaction, cancellationToken: cancellationToken)))?.ToResponse();

    /// <summary>Marks the key revoked; false when it does not exist for the tenant or is already revoked.</summary>
    public static async Task<bool> RevokeAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, Guid id, DateTimeOffset now, CancellationToken cancellationToken) =>
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE api_keys SET revoked_at = @now WHERE tenant_id = @tenantId AND id = @id AND revoked_at IS NULL",
            new { tenantId, id, now }, transaction, cancellationToken: cancellationToken)) == 1;

    private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    private sealed record KeyRow(Guid Id, string Name, string Prefix, DateTime CreatedAt, DateTime? LastUsedAt, DateTime? RevokedAt)
    {
        public ApiKeyResponse ToResponse() =>
            new(Id, Name, Prefix, Utc(CreatedAt), LastUsedAt is { } used ? Utc(used) : null, RevokedAt is { } revoked ? Utc(revoked) : null);
    }
}
