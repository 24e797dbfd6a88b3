using Dapper;
using Npgsql;

namespace Platform.Silo.Internal;

/// <summary>
/// Declares gateways that stopped heartbeating dead, frees their leases, closes their connections in the
/// directory, and prunes closed connections and refusal counts past retention. Every silo runs it; the row locks taken by
/// the status update make concurrent runs harmless (a node is declared dead once).
/// </summary>
internal sealed partial class GatewayReaper(
    NpgsqlDataSource dataSource,
    PlatformOptions options,
    PlatformClock time,
    ILogger<GatewayReaper> logger) : BackgroundService
{
    public const string LostReason = "gateway lost";

    /// <summary>One pass; returns the node ids declared dead by this pass.</summary>
    public async Task<IReadOnlyList<string>> ReapOnceAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var heartbeatCutoff = now - TimeSpan.FromSeconds(options.HeartbeatTimeoutSeconds);
        var retentionCutoff = now - TimeSpan.FromMinutes(options.ClosedConnectionRetentionMinutes);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        // Rows are locked in id order so that reapers of several silos cannot deadlock each other.
        // Separate statements on purpose: each later one takes a fresh snapshot, so it also sees a lease
        // granted by a sync that held the node's row lock while the status update waited for it.
        var dead = (await connection.QueryAsync<string>(new CommandDefinition(
            """
            UPDATE gateway_nodes g SET status = 'dead', dead_at = @now
            FROM (SELECT id FROM gateway_nodes
                  WHERE status IN ('up', 'draining') AND last_heartbeat_at < @heartbeatCutoff
                  ORDER BY id FOR UPDATE) stale
            WHERE g.id = stale.id
            RETURNING g.id
            """,
            new { now, heartbeatCutoff }, transaction, cancellationToken: cancellationToken))).AsList();
        if (dead.Count > 0)
        {
            var ids = dead.ToArray();
            await Quotas.QuotaVersions.BumpForGatewaysAsync(connection, transaction, ids, cancellationToken);
            await connection.ExecuteAsync(new CommandDefinition(
                "DELETE FROM quota_leases WHERE gateway_id = ANY(@ids)", new { ids }, transaction, cancellationToken: cancellationToken));
            var closed = await GatewayConnections.CloseAsync(connection, transaction, ids, LostReason, null, now, cancellationToken);
            foreach (var id in dead)
            {
                LogDeclaredDead(logger, id, options.HeartbeatTimeoutSeconds);
            }

            LogConnectionsClosed(logger, closed);
        }

        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM connections WHERE closed_at < @retentionCutoff",
            new { retentionCutoff }, transaction, cancellationToken: cancellationToken));
        // Dead and stopped nodes stay listed for as long as their closed connections do, then go (leases cascade).
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM gateway_nodes WHERE status IN ('dead', 'stopped') AND dead_at < @retentionCutoff",
            new { retentionCutoff }, transaction, cancellationToken: cancellationToken));
        await Stats.RefusalStore.PruneAsync(connection, transaction, now - TimeSpan.FromDays(options.RefusalRetentionDays), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return dead;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.HeartbeatIntervalSeconds), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await ReapOnceAsync(stoppingToken);
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException)
                {
                    LogReapFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutdown.
        }
    }

    [LoggerMessage(EventId = 3200, Level = LogLevel.Warning, Message = "Gateway {NodeId} sent no heartbeat for {TimeoutSeconds}s; declared dead")]
    private static partial void LogDeclaredDead(ILogger logger, string nodeId, int timeoutSeconds);

    [LoggerMessage(EventId = 3201, Level = LogLevel.Information, Message = "Closed {Count} connections of dead gateways")]
    private static partial void LogConnectionsClosed(ILogger logger, int count);

    [LoggerMessage(EventId = 3202, Level = LogLevel.Warning, Message = "Reaping gateways failed; retrying on the next tick")]
    private static partial void LogReapFailed(ILogger logger, Exception exception);
}
