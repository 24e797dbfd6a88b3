using System.Data.Common;
using Dapper;
using Npgsql;
using Platform.Silo.Data;

namespace Platform.Silo.Tenants;

/// <summary>
/// Keeps <c>host_name_claims</c> equal to the union of a tenant's routing names: <c>{slug}.{domain}</c>,
/// the config's host names and its certificates' DNS names. Called inside the transaction of any
/// change to one of those; a name already claimed by another tenant aborts the change.
/// </summary>
internal static class HostNameClaims
{
    /// <summary>Returns the conflicting host name, or null when the claims were rebuilt.</summary>
    public static async Task<string?> RebuildAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, string slug, string domain,
        IEnumerable<string> configHostNames, CancellationToken cancellationToken)
    {
        var certificateNames = await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT unnest(host_names) FROM certificates WHERE tenant_id = @tenantId",
            new { tenantId }, transaction, cancellationToken: cancellationToken));
        var names = new SortedSet<string>(StringComparer.Ordinal) { $"{slug}.{domain}".ToLowerInvariant() };
        foreach (var name in configHostNames.Concat(certificateNames))
        {
            names.Add(name.ToLowerInvariant());
        }

        var conflict = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
            "SELECT host_name FROM host_name_claims WHERE host_name = ANY(@names) AND tenant_id <> @tenantId ORDER BY host_name LIMIT 1",
            new { names = names.ToArray(), tenantId }, transaction, cancellationToken: cancellationToken));
        if (conflict is not null)
        {
            return conflict;
        }

        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM host_name_claims WHERE tenant_id = @tenantId", new { tenantId }, transaction, cancellationToken: cancellationToken));
        try
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO host_name_claims (host_name, tenant_id) SELECT unnest(@names), @tenantId",
                new { names = names.ToArray(), tenantId }, transaction, cancellationToken: cancellationToken));
        }
        catch (PostgresException e) when (e.IsUniqueViolation())
        {
            // Another tenant claimed one of the names between the check and the insert.
            return names.FirstOrDefault(n => e.Detail?.Contains(n, StringComparison.Ordinal) ?? false) ?? names.First();
        }

        return null;
    }

    /// <summary>Every routing name of a tenant, sorted.</summary>
    public static async Task<IReadOnlyList<string>> ListAsync(DbConnection connection, Guid tenantId, DbTransaction? transaction, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<string>(new CommandDefinition(
            "SELECT host_name FROM host_name_claims WHERE tenant_id = @tenantId ORDER BY host_name",
            new { tenantId }, transaction, cancellationToken: cancellationToken))).AsList();
}
