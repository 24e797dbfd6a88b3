using System.Data.Common;
using Dapper;

namespace Platform.Silo.Quotas;

/// <summary>
/// For writers of <c>quota_leases</c> other than the quota grains: moves the versions of the tenants whose leases a
/// transaction is about to delete forward, in that transaction, so each tenant's grain reloads before it grants again.
/// </summary>
internal static class QuotaVersions
{
    /// <summary>
    /// Bumps the version of every tenant that <paramref name="gatewayIds"/> hold leases of. Call inside the
    /// transaction that deletes those leases, after locking the gateways' rows: grants lock the gateway row before
    /// the version row, and this locks the version rows in tenant order, so neither order deadlocks.
    /// </summary>
    public static Task BumpForGatewaysAsync(DbConnection connection, DbTransaction transaction, string[] gatewayIds, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE tenant_quotas q SET quota_version = q.quota_version + 1
            FROM (SELECT tenant_id FROM tenant_quotas
                  WHERE tenant_id IN (SELECT tenant_id FROM quota_leases WHERE gateway_id = ANY(@gatewayIds))
                  ORDER BY tenant_id FOR UPDATE) locked
            WHERE q.tenant_id = locked.tenant_id
            """,
            new { gatewayIds }, transaction, cancellationToken: cancellationToken));
}
