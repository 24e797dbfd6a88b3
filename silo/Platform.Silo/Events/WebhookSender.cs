using System.Collections.Concurrent;
using System.Text.Json;
using Dapper;
using Npgsql;
using Platform.Contracts;
using Platform.Contracts.Events;

namespace Platform.Silo.Events;

/// <summary>
/// Sends every tenant's pending lifecycle events to its webhook, at least once, in sequence order. A silo claims a
/// tenant's stream by taking its <c>webhook_streams</c> row (<c>FOR UPDATE SKIP LOCKED</c>, only when the previous lease
/// lapsed) with a fresh lease token, renews the lease in the statement that precedes every request (reading the next
/// events, storing the handshake, recording the previous outcome), and writes every outcome only while the token is
/// still the row's: two silos never send one tenant's stream at once, and a silo that dies lets its lease lapse for
/// another to take over. A stream is worked one event at a time (head of line), so a tenant's events, and with them
/// every connection's, arrive in order; a failed attempt moves the head's next attempt by the backoff and gives the
/// stream back. Streams run concurrently (at most <see cref="EventOptions.MaxConcurrentTenants"/> on a silo), every
/// request bounded by the tenant's timeout, so a hung receiver holds up only its own tenant.
/// <para>
/// A claimed stream reads its pending events <see cref="Window"/> at a time and its webhook settings once, then spends
/// one statement per event (the outcome, which also renews the lease and answers the tenant's configuration revision):
/// the settings are read again as soon as that revision moves, and at least every <see cref="TargetRefresh"/>.
/// </para>
/// </summary>
internal sealed partial class WebhookSender(
    NpgsqlDataSource dataSource,
    EventOptions options,
    PlatformOptions platform,
    PlatformClock time,
    WebhookClient client,
    WebhookTargets targets,
    IHostApplicationLifetime lifetime,
    ILogger<WebhookSender> logger) : BackgroundService
{
    private readonly string _holder = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";
    private readonly ConcurrentDictionary<Guid, Task> _running = new();
    private DateTimeOffset _nextPrune = DateTimeOffset.MinValue;

    private string Origin => string.IsNullOrEmpty(options.RequestOrigin) ? platform.Domain : options.RequestOrigin;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, lifetime.ApplicationStopping);
        try
        {
            while (!stopping.IsCancellationRequested)
            {
                try
                {
                    await PassAsync(stopping.Token);
                }
                catch (Exception e) when (e is NpgsqlException or TimeoutException)
                {
                    LogPassFailed(logger, e);
                }

                await Task.Delay(TimeSpan.FromMilliseconds(options.PollIntervalMilliseconds), time, stopping.Token);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Shutdown.
        }
        finally
        {
            // Every stream observes the stopping token; each catches and logs its own faults.
            await Task.WhenAll(_running.Values);
        }
    }

    /// <summary>Prunes when due, then claims due streams up to the free capacity and starts them.</summary>
    public async Task PassAsync(CancellationToken stopping)
    {
        var now = time.GetUtcNow();
        if (now >= _nextPrune)
        {
            await PruneAsync(now, stopping);
            _nextPrune = now + TimeSpan.FromSeconds(options.PruneIntervalSeconds);
        }

        var free = options.MaxConcurrentTenants - _running.Count;
        if (free <= 0)
        {
            return;
        }

        foreach (var (tenantId, token) in await ClaimAsync(free, now, stopping))
        {
            // Registered before it starts, so its own removal (in the stream's finally) always finds it.
            var start = new TaskCompletionSource();
            _running[tenantId] = RunStreamAsync(tenantId, token, start.Task, stopping);
            start.SetResult();
        }
    }

    private async Task<IReadOnlyList<(Guid TenantId, Guid Token)>> ClaimAsync(int free, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return (await connection.QueryAsync<(Guid, Guid)>(new CommandDefinition(
            """
            WITH heads AS (
                SELECT s.tenant_id,
                       (SELECT e.next_attempt_at FROM tenant_events e
                        WHERE e.tenant_id = s.tenant_id AND e.state = 'pending'
                        ORDER BY e.sequence LIMIT 1) AS due
                FROM webhook_streams s
                WHERE (s.lease_expires_at IS NULL OR s.lease_expires_at < @now) AND s.tenant_id <> ALL (@running)),
            candidates AS (
                -- The lease condition again on the locked row: a stream another silo claimed meanwhile is not taken.
                SELECT s.tenant_id FROM webhook_streams s JOIN heads h ON h.tenant_id = s.tenant_id
                WHERE h.due <= @now AND (s.lease_expires_at IS NULL OR s.lease_expires_at < @now)
                ORDER BY h.due
                LIMIT @free
                FOR UPDATE OF s SKIP LOCKED)
            UPDATE webhook_streams s
            SET lease_token = gen_random_uuid(), lease_holder = @holder, lease_expires_at = @until
            FROM candidates c
            WHERE s.tenant_id = c.tenant_id
            RETURNING s.tenant_id, s.lease_token
            """,
            new { now, free, holder = _holder, until = now + Lease, running = _running.Keys.ToArray() },
            cancellationToken: cancellationToken))).AsList();
    }

    private TimeSpan Lease => TimeSpan.FromSeconds(options.LeaseSeconds);

    /// <summary>Pending events a stream reads at once (in sequence order).</summary>
    internal const int Window = 64;

    /// <summary>Longest time a stream sends with webhook settings read earlier (the previous secret's window closes on time).</summary>
    internal static readonly TimeSpan TargetRefresh = TimeSpan.FromSeconds(5);

    private async Task RunStreamAsync(Guid tenantId, Guid token, Task start, CancellationToken stopping)
    {
        await start;
        try
        {
            var cursor = new StreamCursor(tenantId, token);
            while (!stopping.IsCancellationRequested && await SendNextAsync(cursor, stopping))
            {
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Shutdown: the lease is released below, or lapses.
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // One tenant's stream never takes the sender down: logged, given back, claimed again on a later pass.
            LogStreamFailed(logger, tenantId, e);
        }
        finally
        {
            await ReleaseAsync(tenantId, token);
            _running.TryRemove(tenantId, out _);
        }
    }

    /// <summary>One step of a stream; false when the stream has nothing due now (or was lost) and goes back.</summary>
    private async Task<bool> SendNextAsync(StreamCursor cursor, CancellationToken stopping)
    {
        var (tenantId, token) = (cursor.TenantId, cursor.Token);
        await using var connection = await dataSource.OpenConnectionAsync(stopping);
        var now = time.GetUtcNow();
        if (cursor.Pending.Count == 0 && !await ReadWindowAsync(connection, cursor, now, stopping))
        {
            return false;
        }

        var head = cursor.Pending.Peek();
        if (Utc(head.NextAttemptAt) > now)
        {
            return false;
        }

        if (cursor.Target is null || cursor.TargetRevision != cursor.Revision || now - cursor.TargetReadAt >= TargetRefresh)
        {
            cursor.Target = await targets.LoadAsync(connection, tenantId, now, stopping);
            (cursor.TargetRevision, cursor.TargetReadAt) = (cursor.Target?.Revision ?? 0, now);
        }

        var target = cursor.Target;
        if (target is null)
        {
            return false;
        }

        if (target.Url is null || target.Secret is null)
        {
            // Nothing is sent unsigned or nowhere: the head says why and is looked at again later, without an attempt.
            await DeferAsync(connection, tenantId, token, head.Sequence, target.Url is null ? WebhookErrors.NoWebhook : WebhookErrors.NoSecret, now, stopping);
            return false;
        }

        var url = target.Url.AbsoluteUri;
        if (!string.Equals(target.ValidatedUrl, url, StringComparison.Ordinal))
        {
            var handshake = await client.ValidateAsync(target.Slug, target.Url, Origin, target.Timeout, stopping);
            if (!handshake.Success)
            {
                LogValidationFailed(logger, tenantId, handshake.Error!, handshake.Status);
                return await RecordAsync(connection, cursor, head, handshake, stopping);
            }

            // Stored, and the lease renewed for the request that follows, only while the stream is still this silo's.
            var validatedAt = time.GetUtcNow();
            var stored = await connection.ExecuteAsync(new CommandDefinition(
                """
                UPDATE webhook_streams SET validated_url = @url, validated_at = @now, lease_expires_at = @until
                WHERE tenant_id = @tenantId AND lease_token = @token
                """,
                new { tenantId, token, url, now = validatedAt, until = validatedAt + Lease }, cancellationToken: stopping));
            if (stored == 0)
            {
                LogLeaseLost(logger, tenantId);
                return false;
            }

            cursor.Target = target with { ValidatedUrl = url };
        }

        var body = JsonSerializer.SerializeToUtf8Bytes(new LifecycleEvent(
            head.Id, head.Type, head.Sequence, target.Slug, head.ConnectionId, head.Protocol, head.RemoteAddress, head.RemotePort,
            head.CloseCode, head.CloseReason, Utc(head.OccurredAt)), PlatformJson.Options);
        var post = new WebhookPost(target.Slug, head.Id.ToString(), head.Type, head.Sequence, body, target.Secret, target.PreviousSecret);
        var attempt = await client.PostAsync(target.Url, post, target.Timeout, stopping);
        if (!attempt.Success)
        {
            LogAttemptFailed(logger, tenantId, head.Sequence, attempt.Error!, attempt.Status);
        }

        return await RecordAsync(connection, cursor, head, attempt, stopping);
    }

    /// <summary>
    /// Renews the lease and reads the next <see cref="Window"/> pending events with the tenant's configuration revision,
    /// in one round trip; false when the lease is lost or nothing is pending.
    /// </summary>
    private async Task<bool> ReadWindowAsync(NpgsqlConnection connection, StreamCursor cursor, DateTimeOffset now, CancellationToken stopping)
    {
        var (tenantId, token) = (cursor.TenantId, cursor.Token);
        await using var batch = await connection.QueryMultipleAsync(new CommandDefinition(
            """
            UPDATE webhook_streams SET lease_expires_at = @until WHERE tenant_id = @tenantId AND lease_token = @token
            RETURNING (SELECT config_revision FROM tenants WHERE id = @tenantId);
            SELECT sequence AS Sequence, id AS Id, type AS Type, connection_id AS ConnectionId, protocol AS Protocol,
                   remote_address AS RemoteAddress, remote_port AS RemotePort, close_code AS CloseCode,
                   close_reason AS CloseReason, occurred_at AS OccurredAt, attempts AS Attempts, next_attempt_at AS NextAttemptAt
            FROM tenant_events WHERE tenant_id = @tenantId AND state = 'pending'
            ORDER BY sequence LIMIT @window;
            """,
            new { tenantId, token, until = now + Lease, window = Window }, cancellationToken: stopping));
        var revision = (await batch.ReadAsync<long?>()).AsList();
        var rows = (await batch.ReadAsync<HeadRow>()).AsList();
        if (revision.Count == 0)
        {
            LogLeaseLost(logger, tenantId);
            return false;
        }

        if (revision[0] is not { } current)
        {
            // The tenant is gone (its events go with it).
            return false;
        }

        cursor.Revision = current;
        foreach (var row in rows)
        {
            cursor.Pending.Enqueue(row);
        }

        return rows.Count > 0;
    }

    /// <summary>
    /// Stores an attempt's outcome while the lease is still this stream's, renewing the lease in the same statement for
    /// the next request; true when the stream goes on now.
    /// </summary>
    private async Task<bool> RecordAsync(NpgsqlConnection connection, StreamCursor cursor, HeadRow head, WebhookAttempt attempt, CancellationToken stopping)
    {
        var now = time.GetUtcNow();
        var attempts = head.Attempts + 1;
        var giveUp = !attempt.Success && attempts >= options.MaxAttempts;
        var state = attempt.Success ? EventDeliveryStates.Delivered : giveUp ? EventDeliveryStates.Failed : EventDeliveryStates.Pending;
        var next = attempt.Success || giveUp ? now : now + options.Backoff(attempts, Random.Shared.NextDouble());
        var revision = await connection.QuerySingleOrDefaultAsync<long?>(new CommandDefinition(
            """
            WITH lease AS (
                UPDATE webhook_streams SET lease_expires_at = @until
                WHERE tenant_id = @tenantId AND lease_token = @token
                RETURNING tenant_id)
            UPDATE tenant_events e
            SET state = @state, attempts = @attempts, last_status = @status, last_error = @error, last_attempt_at = @now,
                next_attempt_at = @next, delivered_at = CASE WHEN @delivered THEN @now END
            FROM lease
            WHERE e.tenant_id = lease.tenant_id AND e.sequence = @sequence AND e.state = 'pending'
            RETURNING (SELECT t.config_revision FROM tenants t WHERE t.id = e.tenant_id)
            """,
            new
            {
                tenantId = cursor.TenantId,
                token = cursor.Token,
                sequence = head.Sequence,
                state,
                attempts,
                status = attempt.Status is > 0 ? attempt.Status : null,
                error = attempt.Error,
                now,
                until = now + Lease,
                next,
                delivered = attempt.Success,
            },
            cancellationToken: stopping));
        if (revision is null)
        {
            return false;
        }

        cursor.Pending.Dequeue();
        cursor.Revision = revision.Value;
        if (giveUp)
        {
            LogGaveUp(logger, cursor.TenantId, head.Sequence, attempts, attempt.Error!);
        }

        // After a failure the head waits for its backoff: the stream goes back and is claimed again when it is due.
        return state != EventDeliveryStates.Pending;
    }

    private async Task DeferAsync(NpgsqlConnection connection, Guid tenantId, Guid token, long sequence, string reason, DateTimeOffset now, CancellationToken stopping) =>
        await connection.ExecuteAsync(new CommandDefinition(
            """
            UPDATE tenant_events e SET last_error = @reason, next_attempt_at = @next
            WHERE e.tenant_id = @tenantId AND e.sequence = @sequence AND e.state = 'pending'
              AND EXISTS (SELECT 1 FROM webhook_streams s WHERE s.tenant_id = @tenantId AND s.lease_token = @token)
            """,
            new { tenantId, token, sequence, reason, next = now + TimeSpan.FromSeconds(options.RecheckSeconds) },
            cancellationToken: stopping));

    private async Task ReleaseAsync(Guid tenantId, Guid token)
    {
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(CancellationToken.None);
            await connection.ExecuteAsync(new CommandDefinition(
                """
                UPDATE webhook_streams SET lease_token = NULL, lease_holder = NULL, lease_expires_at = NULL
                WHERE tenant_id = @tenantId AND lease_token = @token
                """,
                new { tenantId, token }));
        }
        catch (NpgsqlException e)
        {
            // The lease lapses on its own; another silo (or this one) takes the stream over then.
            LogReleaseFailed(logger, tenantId, e);
        }
    }

    /// <summary>Deletes events older than the retention and, per tenant, all but the newest <see cref="EventOptions.MaxEventsPerTenant"/>.</summary>
    public async Task<int> PruneAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // Numbers are gap-free, so "all but the newest N" is "sequence at most last - N".
        var pruned = await connection.ExecuteAsync(new CommandDefinition(
            """
            DELETE FROM tenant_events e
            USING tenant_event_sequences s
            WHERE e.tenant_id = s.tenant_id
              AND (e.recorded_at < @cutoff OR e.sequence <= s.last_sequence - @keep)
            """,
            new { cutoff = now - TimeSpan.FromDays(options.RetentionDays), keep = (long)options.MaxEventsPerTenant },
            cancellationToken: cancellationToken));
        if (pruned > 0)
        {
            LogPruned(logger, pruned);
        }

        return pruned;
    }

    private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    /// <summary>What a claimed stream knows between its steps: the events read ahead, the settings and the revision they are of.</summary>
    private sealed class StreamCursor(Guid tenantId, Guid token)
    {
        public Guid TenantId { get; } = tenantId;

        public Guid Token { get; } = token;

        public Queue<HeadRow> Pending { get; } = new();

        /// <summary>The tenant's configuration revision as the last statement saw it.</summary>
        public long Revision { get; set; }

        public WebhookTarget? Target { get; set; }

        public long TargetRevision { get; set; }

        public DateTimeOffset TargetReadAt { get; set; }
    }

    private sealed record HeadRow(
        long Sequence, Guid Id, string Type, string ConnectionId, string Protocol, string RemoteAddress, int RemotePort,
        int? CloseCode, string? CloseReason, DateTime OccurredAt, int Attempts, DateTime NextAttemptAt);

    [LoggerMessage(EventId = 7600, Level = LogLevel.Warning, Message = "A webhook sender pass failed; retrying on the next one")]
    private static partial void LogPassFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 7601, Level = LogLevel.Warning, Message = "Sending the events of tenant {TenantId} failed; the stream is given back")]
    private static partial void LogStreamFailed(ILogger logger, Guid tenantId, Exception exception);

    [LoggerMessage(EventId = 7602, Level = LogLevel.Information, Message = "The webhook stream of tenant {TenantId} was taken over elsewhere")]
    private static partial void LogLeaseLost(ILogger logger, Guid tenantId);

    [LoggerMessage(EventId = 7603, Level = LogLevel.Information, Message = "The webhook of tenant {TenantId} failed the validation handshake: {Error} (status {Status})")]
    private static partial void LogValidationFailed(ILogger logger, Guid tenantId, string error, int? status);

    [LoggerMessage(EventId = 7604, Level = LogLevel.Debug, Message = "Event {Sequence} of tenant {TenantId} not delivered: {Error} (status {Status})")]
    private static partial void LogAttemptFailed(ILogger logger, Guid tenantId, long sequence, string error, int? status);

    [LoggerMessage(EventId = 7605, Level = LogLevel.Information, Message = "Event {Sequence} of tenant {TenantId} failed after {Attempts} attempts ({Error}); moving on")]
    private static partial void LogGaveUp(ILogger logger, Guid tenantId, long sequence, int attempts, string error);

    [LoggerMessage(EventId = 7606, Level = LogLevel.Warning, Message = "Releasing the webhook stream of tenant {TenantId} failed; its lease will lapse")]
    private static partial void LogReleaseFailed(ILogger logger, Guid tenantId, Exception exception);

    [LoggerMessage(EventId = 7607, Level = LogLevel.Information, Message = "Pruned {Count} lifecycle events past retention")]
    private static partial void LogPruned(ILogger logger, int count);
}
