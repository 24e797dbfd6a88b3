using System.Data.Common;
using Dapper;
using Npgsql;
using Platform.Contracts.Gateways;
using Platform.Contracts.Internal;

namespace Platform.Silo.Internal;

/// <summary>
/// MaxConnections slots held by gateways. Each tenant row is locked while its grant is computed, so
/// grants racing from many gateways are serialised per tenant and their sum never exceeds the tenant's
/// max_connections.
/// </summary>
internal sealed class LeaseStore(NpgsqlDataSource dataSource, PlatformClock time)
{
    /// <summary>Applies the wanted totals; null when the gateway is unknown or dead.</summary>
    public async Task<LeaseSyncResponse?> SyncAsync(string gatewayId, LeaseSyncRequest request, CancellationToken cancellationToken)
    {
        // The last want per tenant counts, as if the entries had been sent one after another.
        var wants = new Dictionary<Guid, int>();
        foreach (var want in request.Leases)
        {
            wants[want.TenantId] = want.Slots;
        }

        var now = time.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (!await LockLiveGatewayAsync(connection, transaction, gatewayId, cancellationToken))
        {
            return null;
        }

        // Locking in id order keeps two gateways syncing overlapping tenants from deadlocking.
        var tenantIds = wants.Keys.Order().ToArray();
        var limits = (await connection.QueryAsync<(Guid Id, int MaxConnections)>(new CommandDefinition(
            "SELECT id, max_connections FROM tenants WHERE id = ANY(@tenantIds) ORDER BY id FOR UPDATE",
            new { tenantIds }, transaction, cancellationToken: cancellationToken))).ToDictionary(r => r.Id, r => r.MaxConnections);

        var grants = new List<LeaseGrant>(tenantIds.Length);
        foreach (var tenantId in tenantIds)
        {
            if (!limits.TryGetValue(tenantId, out var max))
            {
                grants.Add(new LeaseGrant(tenantId, 0, 0));
                continue;
            }

            // A statement of its own, after the lock: its snapshot includes every grant committed before.
            var slots = await connection.ExecuteScalarAsync<int>(new CommandDefinition(
                """
                WITH others AS (
                    SELECT COALESCE(sum(slots), 0)::int AS used
                    FROM quota_leases WHERE tenant_id = @tenantId AND gateway_id <> @gatewayId),
                grant_ AS (
                    SELECT GREATEST(0, LEAST(@wanted, @max - others.used))::int AS slots FROM others),
                removed AS (
                    DELETE FROM quota_leases
                    WHERE tenant_id = @tenantId AND gateway_id = @gatewayId AND (SELECT slots FROM grant_) = 0),
                upserted AS (
                    INSERT INTO quota_leases (tenant_id, gateway_id, slots, updated_at)
                    SELECT @tenantId, @gatewayId, slots, @now FROM grant_ WHERE slots > 0
                    ON CONFLICT (tenant_id, gateway_id) DO UPDATE SET slots = excluded.slots, updated_at = excluded.updated_at)
                SELECT slots FROM grant_
                """,
                new { tenantId, gatewayId, wanted = Math.Max(0, wants[tenantId]), max, now },
                transaction, cancellationToken: cancellationToken));
            grants.Add(new LeaseGrant(tenantId, slots, max));
        }

        await transaction.CommitAsync(cancellationToken);
        return new LeaseSyncResponse(grants);
    }

    /// <summary>
    /// Share-locks the gateway's row if it is live. The reaper's update of that row waits for this
    /// transaction, and its lease deletion then sees what this transaction granted.
    /// </summary>
    public static async Task<bool> LockLiveGatewayAsync(DbConnection connection, DbTransaction transaction, string gatewayId, CancellationToken cancellationToken) =>
        await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
            "SELECT status FROM gateway_nodes WHERE id = @gatewayId FOR SHARE",
            new { gatewayId }, transaction, cancellationToken: cancellationToken)) is GatewayStatuses.Up or GatewayStatuses.Draining;
}
