using System.Data.Common;
using Dapper;
using Platform.Contracts.Internal;
using Platform.Contracts.RawKeys;

namespace Platform.Silo.RawKeys;

/// <summary>
/// Rows of <c>raw_public_keys</c>. Public keys are not secret: the DER is stored as sent, and leaves this class for
/// the API as its fingerprint only, and whole for the gateways' config snapshot
/// (<see cref="LoadMaterialAsync(DbConnection, IReadOnlyCollection{Guid}, DbTransaction?, CancellationToken)"/>).
/// </summary>
internal static class RawPublicKeyStore
{
    private const string Columns = "id AS Id, name AS Name, fingerprint AS Fingerprint, algorithm AS Algorithm, created_at AS CreatedAt";

    /// <summary>Inserts the key; false when the tenant already trusts a key with the same fingerprint.</summary>
    public static async Task<bool> InsertAsync(
        DbConnection connection, DbTransaction transaction, Guid id, Guid tenantId, string? name, ParsedRawPublicKey key,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        var rows = await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO raw_public_keys (id, tenant_id, name, fingerprint, algorithm, spki, created_at)
            VALUES (@id, @tenantId, @name, @fingerprint, @algorithm, @spki, @now)
            ON CONFLICT (tenant_id, fingerprint) DO NOTHING
            """,
            new { id, tenantId, name, fingerprint = key.Fingerprint, algorithm = key.Algorithm, spki = key.SubjectPublicKeyInfo, now },
            transaction, cancellationToken: cancellationToken));
        return rows == 1;
    }

    public static Task<int> CountAsync(DbConnection connection, DbTransaction transaction, Guid tenantId, CancellationToken cancellationToken) =>
        connection.ExecuteScalarAsync<int>(new CommandDefinition(
            "SELECT count(*)::int FROM raw_public_keys WHERE tenant_id = @tenantId", new { tenantId }, transaction, cancellationToken: cancellationToken));

    public static async Task<(IReadOnlyList<RawPublicKeyResponse> Items, long Total)> ListAsync(
        DbConnection connection, Guid tenantId, int offset, int limit, CancellationToken cancellationToken)
    {
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM raw_public_keys WHERE tenant_id = @tenantId", new { tenantId }, cancellationToken: cancellationToken));
        var rows = await connection.QueryAsync<Row>(new CommandDefinition(
            $"""
            SELECT {Columns}
            FROM raw_public_keys WHERE tenant_id = @tenantId
            ORDER BY created_at, id
            OFFSET @offset LIMIT @limit
            """,
            new { tenantId, offset, limit }, cancellationToken: cancellationToken));
        return (rows.Select(r => r.ToResponse()).ToList(), total);
    }

    /// <summary>The key with this id or fingerprint (<see cref="RawPublicKeyRef"/>), or null when the tenant has none.</summary>
    public static async Task<RawPublicKeyResponse?> GetAsync(
        DbConnection connection, Guid tenantId, RawPublicKeyRef key, CancellationToken cancellationToken)
    {
        var row = await connection.QuerySingleOrDefaultAsync<Row?>(new CommandDefinition(
            $"SELECT {Columns} FROM raw_public_keys WHERE tenant_id = @tenantId AND {key.Condition}",
            new { tenantId, id = key.Id, fingerprint = key.Fingerprint }, cancellationToken: cancellationToken));
        return row?.ToResponse();
    }

    /// <summary>Deletes the key with this id or fingerprint and returns it, or null when the tenant has none.</summary>
    public static async Task<RawPublicKeyResponse?> DeleteAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, RawPublicKeyRef key, CancellationToken cancellationToken)
    {
        var row = await connection.QuerySingleOrDefaultAsync<Row?>(new CommandDefinition(
            $"DELETE FROM raw_public_keys WHERE tenant_id = @tenantId AND {key.Condition} RETURNING {Columns}",
            new { tenantId, id = key.Id, fingerprint = key.Fingerprint }, transaction, cancellationToken: cancellationToken));
        return row?.ToResponse();
    }

    /// <summary>Every raw public key of these tenants, by tenant (tenants without keys are absent). For the internal config snapshot.</summary>
    public static async Task<IReadOnlyDictionary<Guid, IReadOnlyList<RawPublicKeyMaterial>>> LoadMaterialAsync(
        DbConnection connection, IReadOnlyCollection<Guid> tenantIds, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantIds);
        var rows = await connection.QueryAsync<MaterialRow>(new CommandDefinition(
            """
            SELECT id AS Id, tenant_id AS TenantId, fingerprint AS Fingerprint, spki AS Spki
            FROM raw_public_keys
            WHERE tenant_id = ANY(@tenantIds)
            ORDER BY tenant_id, fingerprint
            """,
            new { tenantIds = tenantIds.ToArray() }, transaction, cancellationToken: cancellationToken));
        var result = new Dictionary<Guid, IReadOnlyList<RawPublicKeyMaterial>>();
        foreach (var group in rows.GroupBy(r => r.TenantId))
        {
            result[group.Key] = group.Select(r => new RawPublicKeyMaterial(r.Id, r.Fingerprint, Convert.ToBase64String(r.Spki))).ToList();
        }

        return result;
    }

    private sealed record Row(Guid Id, string? Name, string Fingerprint, string Algorithm, DateTime CreatedAt)
    {
        public RawPublicKeyResponse ToResponse() =>
            new(Id, Name, Fingerprint, Algorithm, new DateTimeOffset(DateTime.SpecifyKind(CreatedAt, DateTimeKind.Utc)));
    }

    private sealed record MaterialRow(Guid Id, Guid TenantId, string Fingerprint, byte[] Spki);
}

/// <summary>How a route names one raw public key: its id, or its SHA-256 fingerprint (64 hex digits, any case).</summary>
[GenerateSerializer, Immutable, Alias("platform.raw-keys.ref")]
internal sealed record RawPublicKeyRef([property: Id(0)] Guid? Id, [property: Id(1)] string? Fingerprint)
{
    public string Condition => Id is null ? "fingerprint = @fingerprint" : "id = @id";

    /// <summary>The reference <paramref name="value"/> names, or null when it is neither a uuid nor 64 hex digits.</summary>
    public static RawPublicKeyRef? Parse(string? value)
    {
        if (value is { Length: 64 } && value.All(char.IsAsciiHexDigit))
        {
            return new RawPublicKeyRef(null, value.ToLowerInvariant());
        }

        return Guid.TryParse(value, out var id) ? new RawPublicKeyRef(id, null) : null;
    }

    public override string ToString() => Id?.ToString() ?? Fingerprint!;
}
