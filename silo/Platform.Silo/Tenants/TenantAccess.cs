using System.Data.Common;
using Dapper;
using Platform.Silo.Security;

namespace Platform.Silo.Tenants;

/// <summary>
/// Resolves the <c>{slug}</c> of a tenant-scoped route for the caller. Operators see every tenant;
/// a tenant key sees only its own, and any other slug is reported as not found, exactly like a
/// slug that does not exist, so a key learns nothing about other tenants.
/// </summary>
internal static class TenantAccess
{
    public static async Task<TenantRef?> ResolveAsync(
        DbConnection connection, HttpContext context, string slug, DbTransaction? transaction = null, bool forUpdate = false)
    {
        var row = await connection.QuerySingleOrDefaultAsync<TenantRef>(new CommandDefinition(
            $"""
            SELECT id AS Id, slug AS Slug, status AS Status, revision AS Revision,
                   config_revision AS ConfigRevision, max_connections AS MaxConnections
            FROM tenants WHERE slug = @slug
            {(forUpdate ? "FOR UPDATE" : "")}
            """,
            new { slug }, transaction, cancellationToken: context.RequestAborted));
        if (row is null)
        {
            return null;
        }

        if (context.User.IsOperator())
        {
            return row;
        }

        return context.User.TenantScope() == row.Id ? row : null;
    }
}
