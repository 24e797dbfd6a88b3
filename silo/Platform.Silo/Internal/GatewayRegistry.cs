using System.Data.Common;
using Dapper;
using Npgsql;
using Platform.Contracts.Gateways;
using Platform.Contracts.Internal;

namespace Platform.Silo.Internal;

/// <summary>Gateway membership: registration and heartbeats in <c>gateway_nodes</c>.</summary>
internal sealed partial class GatewayRegistry(NpgsqlDataSource dataSource, PlatformClock time, ILogger<GatewayRegistry> logger)
{
    public const string RestartedReason = "gateway restarted";

    /// <summary>Close reason of connections still listed open when their gateway stopped cleanly.</summary>
    public const string StoppedReason = "gateway stopped";

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
                config_revision = 0, open_connections = 0, drain_deadline = NULL, dead_at = NULL, refusal_sequence = 0
            RETURNING (xmax <> 0)
            """,
            new { request.NodeId, request.Version, request.InternalUrl, listeners = request.Listeners.ToArray(), now },
            transaction, cancellationToken: cancellationToken));
        if (existed)
        {
            await Quotas.QuotaVersions.BumpForGatewaysAsync(connection, transaction, [request.NodeId], cancellationToken);
            await connection.ExecuteAsync(new CommandDefinition(
                "DELETE FROM quota_leases WHERE gateway_id = @NodeId",
                new { request.NodeId }, transaction, cancellationToken: cancellationToken));
            var closed = await GatewayConnections.CloseAsync(connection, transaction, [request.NodeId], RestartedReason, null, now, cancellationToken);
            LogReregistered(logger, request.NodeId, closed);
        }
        else
        {
            LogRegistered(logger, request.NodeId, request.InternalUrl);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Records a heartbeat and, in the same transaction, its refusal batch unless that batch's sequence
    /// number was applied before (a re-send after a lost answer); null when the node is unknown, declared dead or stopped.
    /// </summary>
    public async Task<HeartbeatResponse?> HeartbeatAsync(string nodeId, HeartbeatRequest request, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var sequence = request.Refusals?.Sequence ?? 0;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var row = await connection.QuerySingleOrDefaultAsync<HeartbeatRow>(new CommandDefinition(
            """
            UPDATE gateway_nodes g
            SET last_heartbeat_at = @now, config_revision = @ConfigRevision, open_connections = @OpenConnections,
                refusal_sequence = GREATEST(g.refusal_sequence, @sequence)
            FROM (SELECT id, refusal_sequence FROM gateway_nodes WHERE id = @nodeId AND status IN ('up', 'draining') FOR UPDATE) before
            WHERE g.id = before.id
            RETURNING g.status AS Status, g.drain_deadline AS DrainDeadline, before.refusal_sequence AS AppliedSequence
            """,
            new { nodeId, now, request.ConfigRevision, request.OpenConnections, sequence },
            transaction, cancellationToken: cancellationToken));
        if (row is null)
        {
            return null;
        }

        if (request.Refusals is { } batch && batch.Sequence > row.AppliedSequence)
        {
            await Stats.RefusalStore.AddAsync(connection, transaction, batch, now, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return new HeartbeatResponse(row.Status, row.DrainDeadline is { } d ? new DateTimeOffset(d, TimeSpan.Zero) : null);
    }

    /// <summary>
    /// A node stopping cleanly: marks it stopped, frees its leases for the other gateways and closes what
    /// it still lists as open (its final connection events normally closed them already), in one
    /// transaction; false when the node is unknown or no longer live.
    /// </summary>
    public async Task<bool> LeaveAsync(string nodeId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var left = await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE gateway_nodes SET status = 'stopped', dead_at = @now, drain_deadline = NULL WHERE id = @nodeId AND status IN ('up', 'draining')",
            new { nodeId, now }, transaction, cancellationToken: cancellationToken));
        if (left == 0)
        {
            return false;
        }

        await Quotas.QuotaVersions.BumpForGatewaysAsync(connection, transaction, [nodeId], cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM quota_leases WHERE gateway_id = @nodeId", new { nodeId }, transaction, cancellationToken: cancellationToken));
        var closed = await GatewayConnections.CloseAsync(connection, transaction, [nodeId], StoppedReason, 1001, now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        LogLeft(logger, nodeId, closed);
        return true;
    }

    /// <summary>
    /// Share-locks the gateway's row if it is live. The reaper's update of that row waits for this
    /// transaction, and its lease deletion then sees what this transaction granted.
    /// </summary>
    public static async Task<bool> LockLiveGatewayAsync(DbConnection connection, DbTransaction transaction, string gatewayId, CancellationToken cancellationToken) =>
        await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
            "SELECT status FROM gateway_nodes WHERE id = @gatewayId FOR SHARE",
            new { gatewayId }, transaction, cancellationToken: cancellationToken)) is GatewayStatuses.Up or GatewayStatuses.Draining;

    private sealed record HeartbeatRow(string Status, DateTime? DrainDeadline, long AppliedSequence);

    [LoggerMessage(EventId = 3000, Level = LogLevel.Information, Message = "Gateway {NodeId} registered at {InternalUrl}")]
    private static partial void LogRegistered(ILogger logger, string nodeId, string internalUrl);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Gateway {NodeId} registered again after a restart; {Closed} stale connections closed and its leases dropped")]
    private static partial void LogReregistered(ILogger logger, string nodeId, int closed);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "Gateway {NodeId} stopped; its leases are free and {Closed} connections it still listed were closed")]
    private static partial void LogLeft(ILogger logger, string nodeId, int closed);
}
