using System.Data.Common;
using System.Text.Json;
using Dapper;
using Npgsql;
using Orleans.Placement;
using Platform.Cluster;
using Platform.Contracts;
using Platform.Contracts.Gateways;
using Platform.Contracts.Internal;
using Platform.Silo.Audit;
using Platform.Silo.Internal;
using Platform.Silo.Quotas;
using Platform.Silo.Stats;

namespace Platform.Silo.Gateways.Nodes;

/// <summary>
/// Owns one gateway node's row. The row is read on activation and kept in memory; every change is written with the
/// row's <c>row_version</c> in the WHERE clause and moves it forward, in a transaction that also does what the change
/// implies (freeing leases, closing connections, applying a refusal batch, the audit entry), and the memory is updated
/// only once that transaction committed. A write that finds no row at its version (a second activation during a
/// membership change, a stale one after a failover) reloads the row and decides again, so no activation overwrites a
/// newer state. A call that would refuse because the node is not live reads the row first: a stale view of a node as
/// dead must not make a live gateway register again.
/// </summary>
/// <remarks>
/// Placed on the silo that first receives a call for the node: a gateway heartbeats to whichever silo it reaches.
/// </remarks>
[PreferLocalPlacement]
internal sealed partial class GatewayGrain(
    NpgsqlDataSource dataSource,
    PlatformClock clock,
    PlatformOptions options,
    ILogger<GatewayGrain> logger) : Grain, IGatewayGrain
{
    /// <summary>Writes that keep finding another version than the one just read point at a fault, not at contention.</summary>
    private const int MaxAttempts = 5;

    /// <summary>How long a command may take at the gateway before the caller hears it was unavailable.</summary>
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(5);

    private GatewayNodeRow? _row;

    /// <summary>The gateway's observer as its latest registration or heartbeat to this activation gave it.</summary>
    private IGatewayObserver? _commands;

    private string NodeId => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken) => _row = await LoadAsync(cancellationToken);

    public async Task RegisterAsync(GatewayRegistration registration)
    {
        ArgumentNullException.ThrowIfNull(registration);
        var cancellationToken = CancellationToken.None;
        for (var attempt = 1; ; attempt++)
        {
            var now = clock.GetUtcNow();
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            // A new row starts past any version this activation saw, so an activation that held a pruned row's version
            // cannot match the new one.
            var stored = await connection.QuerySingleOrDefaultAsync<GatewayNodeRow>(new CommandDefinition(
                $"""
                INSERT INTO gateway_nodes (id, version, listeners, status, started_at, last_heartbeat_at,
                                           config_revision, open_connections, drain_deadline, dead_at, refusal_sequence, row_version)
                VALUES (@id, @Version, @Listeners, 'up', @now, @now, 0, 0, NULL, NULL, 0, @next)
                ON CONFLICT (id) DO UPDATE SET
                    version = excluded.version, listeners = excluded.listeners,
                    status = 'up', started_at = excluded.started_at, last_heartbeat_at = excluded.last_heartbeat_at,
                    config_revision = 0, open_connections = 0, drain_deadline = NULL, dead_at = NULL, refusal_sequence = 0,
                    row_version = gateway_nodes.row_version + 1
                WHERE gateway_nodes.row_version = @expected
                RETURNING {GatewayNodeRow.Columns}, (xmax <> 0) AS Existed
                """,
                new
                {
                    id = NodeId,
                    registration.Version,
                    registration.Listeners,
                    now,
                    expected = _row?.RowVersion ?? -1,
                    next = (_row?.RowVersion ?? 0) + 1,
                },
                transaction, cancellationToken: cancellationToken));
            if (stored is null)
            {
                await ReloadAfterConflictAsync(attempt, cancellationToken);
                continue;
            }

            if (stored.Existed)
            {
                // The process that held the connections and leases is gone.
                var closed = await FreeAsync(connection, transaction, GatewayRegistry.RestartedReason, null, now, cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                LogReregistered(logger, NodeId, closed);
            }
            else
            {
                await transaction.CommitAsync(cancellationToken);
                LogRegistered(logger, NodeId);
            }

            _row = stored;
            _commands = registration.Commands;
            return;
        }
    }

    public async Task<GatewayHeartbeatAnswer?> HeartbeatAsync(GatewayHeartbeat heartbeat)
    {
        ArgumentNullException.ThrowIfNull(heartbeat);
        var cancellationToken = CancellationToken.None;
        for (var attempt = 1; ; attempt++)
        {
            if (!await IsLiveAsync(attempt, cancellationToken))
            {
                return null;
            }

            var row = _row!;
            var now = clock.GetUtcNow();
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var stored = await connection.QuerySingleOrDefaultAsync<GatewayNodeRow>(new CommandDefinition(
                $"""
                UPDATE gateway_nodes
                SET last_heartbeat_at = @now, config_revision = @ConfigRevision, open_connections = @OpenConnections,
                    refusal_sequence = @sequence, row_version = row_version + 1
                WHERE id = @id AND row_version = @expected
                RETURNING {GatewayNodeRow.Columns}
                """,
                new
                {
                    id = NodeId,
                    now,
                    heartbeat.ConfigRevision,
                    heartbeat.OpenConnections,
                    sequence = Math.Max(row.RefusalSequence, heartbeat.RefusalSequence),
                    expected = row.RowVersion,
                },
                transaction, cancellationToken: cancellationToken));
            if (stored is null)
            {
                await ReloadAfterConflictAsync(attempt, cancellationToken);
                continue;
            }

            // Applied in the transaction that records its sequence, against the sequence that transaction replaced:
            // a batch re-sent after a lost answer, to this activation or another, counts once.
            if (heartbeat.Refusals is { } refusals && heartbeat.RefusalSequence > row.RefusalSequence)
            {
                var batch = JsonSerializer.Deserialize<RefusalBatch>(refusals, PlatformJson.Tolerant)
                    ?? throw new InvalidOperationException("A heartbeat carried an empty refusal batch.");
                await RefusalStore.AddAsync(connection, transaction, batch, now, cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
            _row = stored;
            _commands = heartbeat.Commands;
            return new GatewayHeartbeatAnswer(stored.Status, stored.DrainDeadline is { } deadline ? GatewayNodeRow.Utc(deadline) : null);
        }
    }

    public async Task<bool> LeaveAsync()
    {
        var cancellationToken = CancellationToken.None;
        for (var attempt = 1; ; attempt++)
        {
            if (!await IsLiveAsync(attempt, cancellationToken))
            {
                return false;
            }

            var now = clock.GetUtcNow();
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var stored = await UpdateStatusAsync(connection, transaction,
                "status = 'stopped', dead_at = @now, drain_deadline = NULL", new { now }, cancellationToken);
            if (stored is null)
            {
                await ReloadAfterConflictAsync(attempt, cancellationToken);
                continue;
            }

            var closed = await FreeAsync(connection, transaction, GatewayRegistry.StoppedReason, 1001, now, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            _row = stored;
            LogLeft(logger, NodeId, closed);
            return true;
        }
    }

    public async Task<GatewayDrainAnswer> DrainAsync(GatewayDrain drain)
    {
        ArgumentNullException.ThrowIfNull(drain);
        var cancellationToken = CancellationToken.None;
        for (var attempt = 1; ; attempt++)
        {
            if (!await IsLiveAsync(attempt, cancellationToken))
            {
                return new GatewayDrainAnswer(_row?.Status, false, false);
            }

            var now = clock.GetUtcNow();
            DateTimeOffset? deadline = drain.DeadlineSeconds == 0 ? null : now.AddSeconds(drain.DeadlineSeconds);
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var stored = await UpdateStatusAsync(connection, transaction,
                "status = 'draining', drain_deadline = @deadline", new { deadline }, cancellationToken);
            if (stored is null)
            {
                await ReloadAfterConflictAsync(attempt, cancellationToken);
                continue;
            }

            await AuditWriter.WriteAsync(connection, transaction,
                new AuditEntry(drain.Actor, null, null, "gateway.drain", NodeId, Details: new { drain.DeadlineSeconds, deadline }), now, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            _row = stored;

            // The heartbeat answer carries the drain too, so a gateway that misses this call still learns of it.
            var call = await SendAsync(new DrainCommand(new DrainGatewayRequest(drain.DeadlineSeconds)), cancellationToken);
            return new GatewayDrainAnswer(stored.Status, true, call.Status == GatewayCallStatus.Accepted);
        }
    }

    public async Task<bool> DeclareDeadAsync()
    {
        var cancellationToken = CancellationToken.None;
        for (var attempt = 1; ; attempt++)
        {
            var now = clock.GetUtcNow();
            var cutoff = now - TimeSpan.FromSeconds(options.HeartbeatTimeoutSeconds);
            if (attempt == 1 && !IsStale(cutoff))
            {
                // The reaper asks because the stored row looks stale: a "no" is confirmed against it.
                _row = await LoadAsync(cancellationToken);
            }

            if (!IsStale(cutoff))
            {
                return false;
            }

            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            // Waits for lease grants holding the row (share); the lease deletion that follows then sees their grants.
            var stored = await UpdateStatusAsync(connection, transaction, "status = 'dead', dead_at = @now", new { now }, cancellationToken);
            if (stored is null)
            {
                await ReloadAfterConflictAsync(attempt, cancellationToken);
                continue;
            }

            var closed = await FreeAsync(connection, transaction, GatewayReaper.LostReason, null, now, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            _row = stored;
            LogDeclaredDead(logger, NodeId, options.HeartbeatTimeoutSeconds, closed);
            return true;
        }
    }

    public Task<GatewayCommandAnswer> CommandAsync(GatewayCommand command, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(command);
        // Interleaved: reads the row and the observer once and changes nothing.
        return _row is { IsLive: true } ? SendAsync(command, cancellationToken) : Task.FromResult(GatewayCommandAnswer.Unavailable);
    }

    /// <summary>
    /// Passes a command to the gateway's observer under <see cref="CommandTimeout"/>. Until the gateway registers or
    /// heartbeats to this activation it has no observer, and the command is unavailable (the caller may retry).
    /// </summary>
    private async Task<GatewayCommandAnswer> SendAsync(GatewayCommand command, CancellationToken cancellationToken)
    {
        if (_commands is not { } commands)
        {
            LogNoObserver(logger, NodeId, command.GetType().Name);
            return GatewayCommandAnswer.Unavailable;
        }

        GatewayCommandAnswer? answer;
        try
        {
            answer = await commands.ExecuteAsync(command).WaitAsync(CommandTimeout, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Whatever failed on the way or at the gateway (not answered in time, its client gone, its handler threw)
            // means the gateway did not take the command; only the caller giving up is the caller's to hear.
            LogGatewayUnreachable(logger, e, NodeId, command.GetType().Name);
            return GatewayCommandAnswer.Unavailable;
        }

        // "Invalid" must say what to fix; without field errors it tells the caller nothing, as a refusal would not.
        if (answer is null or { Status: GatewayCallStatus.Invalid, Errors: null or { Count: 0 } })
        {
            LogUnexplainedAnswer(logger, NodeId, command.GetType().Name);
            return GatewayCommandAnswer.Unavailable;
        }

        return answer;
    }

    private bool IsStale(DateTimeOffset cutoff) => _row is { IsLive: true } row && GatewayNodeRow.Utc(row.LastHeartbeatAt) < cutoff;

    /// <summary>Whether the node is live; on a call's first attempt a "no" is confirmed against the stored row.</summary>
    private async Task<bool> IsLiveAsync(int attempt, CancellationToken cancellationToken)
    {
        if (attempt == 1 && _row is not { IsLive: true })
        {
            _row = await LoadAsync(cancellationToken);
        }

        return _row is { IsLive: true };
    }

    private Task<GatewayNodeRow?> UpdateStatusAsync(DbConnection connection, DbTransaction transaction, string set, object values, CancellationToken cancellationToken)
    {
        var parameters = new DynamicParameters(values);
        parameters.Add("id", NodeId);
        parameters.Add("expected", _row!.RowVersion);
        return connection.QuerySingleOrDefaultAsync<GatewayNodeRow>(new CommandDefinition(
            $"""
            UPDATE gateway_nodes SET {set}, row_version = row_version + 1
            WHERE id = @id AND row_version = @expected
            RETURNING {GatewayNodeRow.Columns}
            """,
            parameters, transaction, cancellationToken: cancellationToken));
    }

    /// <summary>
    /// Frees what the node held, in the transaction that changed its status: its leases (moving the versions of the
    /// tenants they belong to forward, so their quota grains reload) and the connections the directory lists open on it.
    /// </summary>
    private async Task<int> FreeAsync(DbConnection connection, DbTransaction transaction, string reason, int? closeCode, DateTimeOffset now, CancellationToken cancellationToken)
    {
        string[] ids = [NodeId];
        await QuotaVersions.BumpForGatewaysAsync(connection, transaction, ids, cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM quota_leases WHERE gateway_id = @id", new { id = NodeId }, transaction, cancellationToken: cancellationToken));
        return await GatewayConnections.CloseAsync(connection, transaction, ids, now, closeCode, reason, cancellationToken);
    }

    private async Task ReloadAfterConflictAsync(int attempt, CancellationToken cancellationToken)
    {
        var held = _row?.RowVersion ?? 0;
        if (attempt >= MaxAttempts)
        {
            throw new InvalidOperationException($"Gateway {NodeId}: the stored row kept changing under {MaxAttempts} consecutive writes.");
        }

        _row = await LoadAsync(cancellationToken);
        LogReloaded(logger, NodeId, held, _row?.RowVersion ?? 0);
    }

    private async Task<GatewayNodeRow?> LoadAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<GatewayNodeRow>(new CommandDefinition(
            $"SELECT {GatewayNodeRow.Columns} FROM gateway_nodes WHERE id = @id",
            new { id = NodeId }, cancellationToken: cancellationToken));
    }

    [LoggerMessage(EventId = 3000, Level = LogLevel.Information, Message = "Gateway {NodeId} registered")]
    private static partial void LogRegistered(ILogger logger, string nodeId);

    [LoggerMessage(EventId = 3401, Level = LogLevel.Warning, Message = "Gateway {NodeId} did not take {Command}")]
    private static partial void LogGatewayUnreachable(ILogger logger, Exception exception, string nodeId, string command);

    [LoggerMessage(EventId = 3404, Level = LogLevel.Warning, Message = "Gateway {NodeId} answered {Command} as invalid without naming a field, or not at all; taken as unavailable")]
    private static partial void LogUnexplainedAnswer(ILogger logger, string nodeId, string command);

    [LoggerMessage(EventId = 3403, Level = LogLevel.Information, Message = "Gateway {NodeId} has not heartbeated to this activation yet; {Command} is unavailable until it does")]
    private static partial void LogNoObserver(ILogger logger, string nodeId, string command);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Gateway {NodeId} registered again after a restart; {Closed} stale connections closed and its leases dropped")]
    private static partial void LogReregistered(ILogger logger, string nodeId, int closed);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "Gateway {NodeId} stopped; its leases are free and {Closed} connections it still listed were closed")]
    private static partial void LogLeft(ILogger logger, string nodeId, int closed);

    [LoggerMessage(EventId = 3200, Level = LogLevel.Warning, Message = "Gateway {NodeId} sent no heartbeat for {TimeoutSeconds}s; declared dead, {Closed} of its connections closed and its leases freed")]
    private static partial void LogDeclaredDead(ILogger logger, string nodeId, int timeoutSeconds, int closed);

    [LoggerMessage(EventId = 3600, Level = LogLevel.Information, Message = "Gateway {NodeId} changed outside this activation (version {Held}, stored {Stored}); reloaded before deciding again")]
    private static partial void LogReloaded(ILogger logger, string nodeId, long held, long stored);
}
