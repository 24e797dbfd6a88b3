using Dapper;
using Npgsql;
using Platform.Silo.Gateways.Nodes;

namespace Platform.Silo.Internal;

/// <summary>
/// Finds gateways that stopped heartbeating and asks each one's grain to declare it dead (the grain frees its leases
/// and closes its connections in the directory), then prunes closed connections, dead and stopped nodes and refusal
/// counts past retention. Every silo runs it: a node's grain handles one call at a time and writes under the row's
/// version, so a node is declared dead once. It stops as soon as the host begins stopping, before anything else: while
/// a silo shuts down it no longer answers heartbeats, and a reaper still running would take that silence for dead gateways.
/// </summary>
internal sealed partial class GatewayReaper(
    NpgsqlDataSource dataSource,
    IGrainFactory grains,
    IHostApplicationLifetime lifetime,
    PlatformOptions options,
    PlatformClock time,
    ILogger<GatewayReaper> logger) : BackgroundService
{
    public const string LostReason = "gateway lost";

    /// <summary>One pass; returns the node ids declared dead by this pass (none once the host is stopping).</summary>
    public async Task<IReadOnlyList<string>> ReapOnceAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var heartbeatCutoff = now - TimeSpan.FromSeconds(options.HeartbeatTimeoutSeconds);
        var retentionCutoff = now - TimeSpan.FromMinutes(options.ClosedConnectionRetentionMinutes);
        var dead = new List<string>();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var stale = await connection.QueryAsync<string>(new CommandDefinition(
            """
            SELECT id FROM gateway_nodes
            WHERE status IN ('up', 'draining') AND last_heartbeat_at < @heartbeatCutoff
            ORDER BY id
            """,
            new { heartbeatCutoff }, cancellationToken: cancellationToken));
        foreach (var id in stale)
        {
            // Checked before every node: the host may begin stopping while a pass runs.
            if (lifetime.ApplicationStopping.IsCancellationRequested)
            {
                LogStopping(logger);
                return dead;
            }

            if (await grains.GetGrain<IGatewayGrain>(id).DeclareDeadAsync())
            {
                dead.Add(id);
            }
        }

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
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
        // ApplicationStopping is signalled before any hosted service (Kestrel, Orleans) begins to stop.
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, lifetime.ApplicationStopping);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(options.HeartbeatIntervalSeconds), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping.Token))
            {
                try
                {
                    await ReapOnceAsync(stopping.Token);
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException or OrleansException)
                {
                    LogReapFailed(logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Shutdown.
        }
    }

    [LoggerMessage(EventId = 3202, Level = LogLevel.Warning, Message = "Reaping gateways failed; retrying on the next tick")]
    private static partial void LogReapFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 3203, Level = LogLevel.Information, Message = "The silo is stopping; gateways are no longer reaped here")]
    private static partial void LogStopping(ILogger logger);
}
