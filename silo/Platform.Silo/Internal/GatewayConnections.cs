using System.Data.Common;
using Dapper;
using Platform.Contracts.Events;
using Platform.Silo.Events;

namespace Platform.Silo.Internal;

/// <summary>
/// Closes the open connections of gateways that are gone (re-registered after a restart, left, declared dead) in
/// bulk, in the caller's transaction, and moves the <c>tenant_connection_versions</c> of every tenant they belong to
/// forward in the same transaction. Each tenant's connections grain compares that version before every answer and
/// reloads when it moved, so no grain lists a closed connection as open, whichever silo it runs on and whether or not
/// it was active: there is no second step that a silo dying after the commit could leave undone. Every connection closed
/// here gets its <c>disconnected</c> lifecycle event in the same transaction.
/// </summary>
internal static class GatewayConnections
{
    /// <summary>
    /// Closes every open connection of <paramref name="gatewayIds"/>; returns how many. Call after locking the gateways'
    /// rows: a grain storing events locks the gateway row before its tenant's version row, and this locks the version
    /// rows in tenant order, so neither order deadlocks.
    /// </summary>
    public static async Task<int> CloseAsync(
        DbConnection connection, DbTransaction transaction, string[] gatewayIds, DateTimeOffset now, int? closeCode, string reason,
        CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO tenant_connection_versions (tenant_id, connection_version)
            SELECT tenant_id, 1
            FROM (SELECT DISTINCT tenant_id FROM connections WHERE gateway_id = ANY(@gatewayIds) AND closed_at IS NULL) affected
            ORDER BY tenant_id
            ON CONFLICT (tenant_id) DO UPDATE SET connection_version = tenant_connection_versions.connection_version + 1
            """,
            new { gatewayIds }, transaction, cancellationToken: cancellationToken));
        var closed = (await connection.QueryAsync<(string Id, Guid TenantId, string Protocol, string RemoteAddress, int RemotePort)>(new CommandDefinition(
            """
            UPDATE connections SET closed_at = @now, close_code = @closeCode, close_reason = @reason
            WHERE gateway_id = ANY(@gatewayIds) AND closed_at IS NULL
            RETURNING id, tenant_id, protocol, remote_address, remote_port
            """,
            new { gatewayIds, now, closeCode, reason }, transaction, cancellationToken: cancellationToken))).AsList();
        // A disconnected event for every connection closed here, in this transaction, after the version rows above.
        await EventOutbox.AppendAsync(connection, transaction,
            closed.OrderBy(c => c.Id, StringComparer.Ordinal)
                .Select(c => new OutboxEvent(c.TenantId, LifecycleEventTypes.Disconnected, c.Id, c.Protocol, c.RemoteAddress, c.RemotePort, closeCode, reason, now))
                .ToList(),
            now, cancellationToken);
        await Usage.UsageMeter.SettleGatewaysAsync(connection, transaction, gatewayIds, now, cancellationToken);
        return closed.Count;
    }
}
