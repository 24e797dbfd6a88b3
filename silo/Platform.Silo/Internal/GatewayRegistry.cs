using Dapper;
using Npgsql;
using Platform.Contracts.Gateways;
using Platform.Contracts.Internal;

namespace Platform.Silo.Internal;

/// <summary>Gateway membership: registration and heartbeats in <c>gateway_nodes</c>.</summary>
internal sealed partial class GatewayRegistry(NpgsqlDataSource dataSource, TimeProvider time, ILogger<GatewayRegistry> logger)
{
    public const string RestartedReason = "gateway restarted";

    /// <summary>
    /// Upserts the node as up. A node id seen before means its process restarted: the connections it
    /// held are gone and its leases describe a process that no longer exists, so both go in the same
    /// transaction as the upsert.
    /// </summary>
    public async Task RegisterAsync(RegisterGatewayRequest request, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var existed = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            """
            INSERT INTO gateway_nodes (id, version, internal_url, listeners, status, started_at, last_heartbeat_at,
                                       config_revision, open_connections, drain_deadline, dead_at)
            VALUES (@NodeId, @Version, @InternalUrl, @listeners, 'up', @now, @now, 0, 0, NULL, NULL)
            ON CONFLICT (id) DO UPDATE SET
                version = excluded.version, internal_url = excluded.internal_url, listeners = excluded.listeners,
                status = 'up', started_at = excluded.started_at, last_heartbeat_at = excluded.last_heartbeat_at,
                config_revision = 0, open_connections = 0, drain_deadline = NULL, dead_at = NULL
            RETURNING (xmax <> 0)
            """,
            new { request.NodeId, request.Version, request.InternalUrl, listeners = request.Listeners.ToArray(), now },
            transaction, cancellationToken: cancellationToken));
        if (existed)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "DELETE FROM quota_leases WHERE gateway_id = @NodeId",
                new { request.NodeId }, transaction, cancellationToken: cancellationToken));
            var closed = await connection.ExecuteAsync(new CommandDefinition(
                """
                UPDATE connections SET closed_at = @now, close_reason = @reason
                WHERE gateway_id = @NodeId AND closed_at IS NULL
                """,
                new { request.NodeId, now, reason = RestartedReason }, transaction, cancellationToken: cancellationToken));
            LogReregistered(logger, request.NodeId, closed);
        }
        else
        {
            LogRegistered(logger, request.NodeId, request.InternalUrl);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Records a heartbeat; null when the node is unknown or was declared dead.</summary>
    public async Task<HeartbeatResponse?> HeartbeatAsync(string nodeId, HeartbeatRequest request, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<HeartbeatRow>(new CommandDefinition(
            """
            UPDATE gateway_nodes
            SET last_heartbeat_at = @now, config_revision = @ConfigRevision, open_connections = @OpenConnections
            WHERE id = @nodeId AND status <> 'dead'
            RETURNING status AS Status, drain_deadline AS DrainDeadline
            """,
            new { nodeId, now = time.GetUtcNow(), request.ConfigRevision, request.OpenConnections },
            cancellationToken: cancellationToken));
        return row is null ? null : new HeartbeatResponse(row.Status, row.DrainDeadline is { } d ? new DateTimeOffset(d, TimeSpan.Zero) : null);
    }

    private sealed record HeartbeatRow(string Status, DateTime? DrainDeadline);

    [LoggerMessage(EventId = 3000, Level = LogLevel.Information, Message = "Gateway {NodeId} registered at {InternalUrl}")]
    private static partial void LogRegistered(ILogger logger, string nodeId, string internalUrl);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Gateway {NodeId} registered again after a restart; {Closed} stale connections closed and its leases dropped")]
    private static partial void LogReregistered(ILogger logger, string nodeId, int closed);
}
