using System.Data.Common;
using System.Security.Cryptography;
using Dapper;
using Platform.Contracts.Internal;
using Platform.Silo.Security;

namespace Platform.Silo.Psk;

/// <summary>
/// Rows of <c>psk_identities</c>. Keys are stored encrypted under the master key, bound to the row
/// id; they leave this class only through <see cref="LoadMaterialAsync(DbConnection, Guid, DbTransaction?, CancellationToken)"/>,
/// for the gateways' config snapshot.
/// </summary>
internal sealed class PskStore(SecretProtector protector)
{
    /// <summary>The key as it is stored: encrypted for the identity's row id.</summary>
    public byte[] Seal(byte[] key, Guid id) => protector.Protect(key, SecretPurposes.PskKey, id);

    /// <summary>Inserts the identity with its sealed key; false when the tenant already has one with the same name.</summary>
    public static async Task<bool> InsertAsync(
        DbConnection connection, DbTransaction transaction, Guid id, Guid tenantId, string identity, byte[] keyEnc,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        var rows = await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO psk_identities (id, tenant_id, identity, key_enc, created_at)
            VALUES (@id, @tenantId, @identity, @keyEnc, @now)
            ON CONFLICT (tenant_id, identity) DO NOTHING
            """,
            new { id, tenantId, identity, keyEnc, now }, transaction, cancellationToken: cancellationToken));
        return rows == 1;
    }

    public static async Task<(IReadOnlyList<PskRow> Items, long Total)> ListAsync(
        DbConnection connection, Guid tenantId, int offset, int limit, CancellationToken cancellationToken)
    {
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT count(*) FROM psk_identities WHERE tenant_id = @tenantId", new { tenantId }, cancellationToken: cancellationToken));
        var rows = await connection.QueryAsync<PskRow>(new CommandDefinition(
            """
            SELECT id AS Id, identity AS Identity, created_at AS CreatedAt
            FROM psk_identities WHERE tenant_id = @tenantId
            ORDER BY identity, id
            OFFSET @offset LIMIT @limit
            """,
            new { tenantId, offset, limit }, cancellationToken: cancellationToken));
        return (rows.AsList(), total);
    }

    public static Task<PskRow?> GetAsync(DbConnection connection, Guid tenantId, Guid id, CancellationToken cancellationToken) =>
        connection.QuerySingleOrDefaultAsync<PskRow?>(new CommandDefinition(
            "SELECT id AS Id, identity AS Identity, created_at AS CreatedAt FROM psk_identities WHERE tenant_id = @tenantId AND id = @id",
            new { tenantId, id }, cancellationToken: cancellationToken));

    /// <summary>Deletes the identity and returns it, or null when the tenant has no such identity.</summary>
    public static Task<PskRow?> DeleteAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, Guid id, CancellationToken cancellationToken) =>
        connection.QuerySingleOrDefaultAsync<PskRow?>(new CommandDefinition(
            "DELETE FROM psk_identities WHERE tenant_id = @tenantId AND id = @id RETURNING id AS Id, identity AS Identity, created_at AS CreatedAt",
            new { tenantId, id }, transaction, cancellationToken: cancellationToken));

    /// <summary>Every PSK identity of the tenant with its decrypted key, by identity. For the internal config snapshot only.</summary>
    public async Task<IReadOnlyList<PskMaterial>> LoadMaterialAsync(
        DbConnection connection, Guid tenantId, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        var all = await LoadMaterialAsync(connection, [tenantId], transaction, cancellationToken);
        return all.TryGetValue(tenantId, out var list) ? list : [];
    }

    /// <summary>
    /// <see cref="LoadMaterialAsync(DbConnection, Guid, DbTransaction?, CancellationToken)"/> for many
    /// tenants in one query (full snapshots); tenants without identities are absent from the result.
    /// </summary>
    public async Task<IReadOnlyDictionary<Guid, IReadOnlyList<PskMaterial>>> LoadMaterialAsync(
        DbConnection connection, IReadOnlyCollection<Guid> tenantIds, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tenantIds);
        var rows = await connection.QueryAsync<MaterialRow>(new CommandDefinition(
            """
            SELECT id AS Id, tenant_id AS TenantId, identity AS Identity, key_enc AS KeyEnc
            FROM psk_identities
            WHERE tenant_id = ANY(@tenantIds)
            ORDER BY tenant_id, identity
            """,
            new { tenantIds = tenantIds.ToArray() }, transaction, cancellationToken: cancellationToken));
        var result = new Dictionary<Guid, IReadOnlyList<PskMaterial>>();
        foreach (var group in rows.GroupBy(r => r.TenantId))
        {
            result[group.Key] = group.Select(Decrypt).ToList();
        }

        return result;
    }

    private PskMaterial Decrypt(MaterialRow row)
    {
        var key = protector.Unprotect(row.KeyEnc, SecretPurposes.PskKey, row.Id);
        try
        {
            return new PskMaterial(row.Identity, Convert.ToHexStringLower(key));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    private sealed record MaterialRow(Guid Id, Guid TenantId, string Identity, byte[] KeyEnc);
}
