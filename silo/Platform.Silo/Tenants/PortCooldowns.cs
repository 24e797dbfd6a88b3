using System.Data.Common;
using Dapper;

namespace Platform.Silo.Tenants;

/// <summary>
/// Rows of <c>port_cooldowns</c>: a dedicated port released by a tenant goes to no other tenant for
/// <see cref="PlatformOptions.PortCooldownHours"/>, so devices still dialling it never reach a new owner; the tenant
/// that released it may take it back. Written in the transaction that frees the port.
/// </summary>
internal static class PortCooldowns
{
    /// <summary>Starts the cool-down of one port the tenant releases.</summary>
    public static Task ReleaseAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, int port, DateTimeOffset now, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO port_cooldowns (port, tenant_id, released_at) VALUES (@port, @tenantId, @now)
            ON CONFLICT (port) DO UPDATE SET tenant_id = excluded.tenant_id, released_at = excluded.released_at
            """,
            new { port, tenantId, now }, transaction, cancellationToken: cancellationToken));

    /// <summary>Starts the cool-down of every port the tenant holds (before the tenant is deleted).</summary>
    public static Task ReleaseAllAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, DateTimeOffset now, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO port_cooldowns (port, tenant_id, released_at)
            SELECT port, tenant_id, @now FROM dedicated_ports WHERE tenant_id = @tenantId
            ON CONFLICT (port) DO UPDATE SET tenant_id = excluded.tenant_id, released_at = excluded.released_at
            """,
            new { tenantId, now }, transaction, cancellationToken: cancellationToken));
}
