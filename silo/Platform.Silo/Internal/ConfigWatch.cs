using System.Text.Json;
using Dapper;
using Npgsql;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Internal;
using Platform.Contracts.Plans;
using Platform.Silo.Certificates;
using Platform.Silo.Data;
using Platform.Silo.Events;
using Platform.Silo.Plans;
using Platform.Silo.Psk;
using Platform.Silo.RawKeys;
using Platform.Silo.Security;

namespace Platform.Silo.Internal;

/// <summary>
/// Answers "what changed after revision R" for gateways: a full snapshot when R is 0, newer than
/// anything issued (the database was reset) or older than the horizon; otherwise the changed tenants
/// and the removed ones. <see cref="WaitAsync"/> adds the long poll. Each tenant's configuration is sent as
/// it applies: capped by the tenant's plan.
/// </summary>
internal sealed class ConfigWatch(
    NpgsqlDataSource dataSource,
    ConfigChangeSignal signal,
    CertificateStore certificateStore,
    PskStore pskStore,
    SecretProtector protector,
    WebhookTargets webhookTargets,
    PlatformClock time)
{
    // While no notifications arrive (listener reconnecting), watchers re-query at this pace instead.
    private static readonly TimeSpan PollWithoutNotifications = TimeSpan.FromSeconds(1);

    public async Task<ConfigWatchResponse> WaitAsync(long after, TimeSpan wait, CancellationToken cancellationToken)
    {
        var deadline = time.GetUtcNow() + wait;
        while (true)
        {
            // Taken before the query: a change committed after the query completes this task.
            var changed = signal.Next;
            var answer = await QueryAsync(after, cancellationToken);
            // A database where nothing has happened yet answers cursor 0 with an empty full snapshot at
            // revision 0. A watcher willing to wait learns nothing from that (it would only ask again at
            // once), so it waits for the first change like any other watcher.
            if (answer is not null && !(wait > TimeSpan.Zero && after == 0 && answer.Revision == 0))
            {
                return answer;
            }

            var remaining = deadline - time.GetUtcNow();
            if (remaining <= TimeSpan.Zero)
            {
                return new ConfigWatchResponse(after, false, [], []);
            }

            if (!signal.IsListening && remaining > PollWithoutNotifications)
            {
                remaining = PollWithoutNotifications;
            }

            using var delayCancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var delay = Task.Delay(remaining, time, delayCancel.Token);
            await Task.WhenAny(changed, delay);
            await delayCancel.CancelAsync();
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>The answer for <paramref name="after"/>, or null when nothing is newer.</summary>
    public async Task<ConfigWatchResponse?> QueryAsync(long after, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // Shared side of the commit lock: no revision is in flight while it is held, so the sequence's
        // value is a cursor that covers everything committed, and nothing commits below it later.
        await connection.ExecuteAsync(new CommandDefinition(
            "SELECT pg_advisory_xact_lock_shared(@key)", new { key = ConfigRevisions.CommitLockKey }, transaction, cancellationToken: cancellationToken));
        var state = await connection.QuerySingleAsync<RevisionState>(new CommandDefinition(
            """
            SELECT (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM config_revision_seq) AS Current,
                   (SELECT min_revision FROM config_horizon) AS Horizon
            """,
            transaction: transaction, cancellationToken: cancellationToken));
        var full = after == 0 || after > state.Current || after < state.Horizon;

        var tenants = await LoadTenantsAsync(connection, transaction, full, after, cancellationToken);
        var removed = full
            ? []
            : (await connection.QueryAsync<Guid>(new CommandDefinition(
                "SELECT tenant_id FROM tenant_tombstones WHERE revision > @after ORDER BY revision",
                new { after }, transaction, cancellationToken: cancellationToken))).AsList();
        await transaction.CommitAsync(cancellationToken);
        if (!full && tenants.Count == 0 && removed.Count == 0)
        {
            return null;
        }

        return new ConfigWatchResponse(state.Current, full, tenants, removed);
    }

    private async Task<List<TenantSnapshot>> LoadTenantsAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, bool full, long after, CancellationToken cancellationToken)
    {
        var rows = (await connection.QueryAsync<TenantRow>(new CommandDefinition(
            """
            SELECT t.id AS Id, t.slug AS Slug, t.status AS Status, t.revision AS Revision, t.config_revision AS ConfigRevision,
                   c.config::text AS ConfigJson, c.webhook_secret_enc AS WebhookSecretEnc
            FROM tenants t
            JOIN tenant_configs c ON c.tenant_id = t.id AND c.revision = t.config_revision
            WHERE @full OR t.revision > @after
            ORDER BY t.revision, t.id
            """,
            new { full, after }, transaction, cancellationToken: cancellationToken))).AsList();
        if (rows.Count == 0)
        {
            return [];
        }

        var ids = rows.Select(r => r.Id).ToArray();
        var hostNames = (await connection.QueryAsync<(Guid TenantId, string HostName)>(new CommandDefinition(
            "SELECT tenant_id, host_name FROM host_name_claims WHERE tenant_id = ANY(@ids) ORDER BY host_name",
            new { ids }, transaction, cancellationToken: cancellationToken))).ToLookup(r => r.TenantId, r => r.HostName);
        var ports = (await connection.QueryAsync<(Guid TenantId, int Port, string Protocol)>(new CommandDefinition(
            "SELECT tenant_id, port, protocol FROM dedicated_ports WHERE tenant_id = ANY(@ids) ORDER BY port",
            new { ids }, transaction, cancellationToken: cancellationToken))).ToLookup(r => r.TenantId, r => new DedicatedPortSnapshot(r.Port, r.Protocol));
        var certificates = await certificateStore.LoadMaterialAsync(connection, ids, transaction, cancellationToken);
        var psks = await pskStore.LoadMaterialAsync(connection, ids, transaction, cancellationToken);
        var rawPublicKeys = await RawPublicKeyStore.LoadMaterialAsync(connection, ids, transaction, cancellationToken);
        var plans = await PlanStore.LoadAsync(connection, transaction, ids, cancellationToken);
        var previousSecrets = new Dictionary<Guid, PreviousWebhookSecret>();
        foreach (var row in rows.Where(r => r.WebhookSecretEnc is not null))
        {
            if (await webhookTargets.PreviousAsync(connection, row.Id, row.ConfigRevision, time.GetUtcNow(), cancellationToken) is { } previous)
            {
                previousSecrets[row.Id] = previous;
            }
        }

        // Gateways get the effective configuration: the tenant's values capped by its plan (GET config keeps the tenant's own).
        return rows.Select(r => new TenantSnapshot(
            r.Id, r.Slug, r.Status, r.Revision, EffectiveConfig.Apply(Config(r), plans.GetValueOrDefault(r.Id) ?? new TenantPlan()),
            hostNames[r.Id].ToList(), ports[r.Id].ToList(), certificates.GetValueOrDefault(r.Id, []), psks.GetValueOrDefault(r.Id, []),
            rawPublicKeys.GetValueOrDefault(r.Id, []), previousSecrets.GetValueOrDefault(r.Id))).ToList();
    }

    private TenantConfig Config(TenantRow row)
    {
        var config = JsonSerializer.Deserialize<TenantConfig>(row.ConfigJson, PlatformJson.Tolerant)
            ?? throw new InvalidOperationException($"Tenant {row.Id} has a null configuration.");
        if (row.WebhookSecretEnc is null || config.Delivery.Webhook is null)
        {
            return config;
        }

        var secret = protector.UnprotectString(row.WebhookSecretEnc, SecretPurposes.WebhookSecret, row.Id);
        return config with { Delivery = config.Delivery with { Webhook = config.Delivery.Webhook with { Secret = secret, HasSecret = true } } };
    }

    private sealed record RevisionState(long Current, long Horizon);

    private sealed record TenantRow(Guid Id, string Slug, string Status, long Revision, long ConfigRevision, string ConfigJson, byte[]? WebhookSecretEnc);
}
