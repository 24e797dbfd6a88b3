using System.Data;
using System.Data.Common;
using Dapper;
using Npgsql;
using Orleans.Placement;
using Platform.Silo.Internal;

namespace Platform.Silo.Quotas;

/// <summary>
/// Owns one tenant's MaxConnections leases. Calls are not interleaved, so grants for the tenant are computed one at a
/// time from the ledger in memory; each is stored before the call returns, in a transaction that takes the tenant row
/// (share), the gateway row (share) and the tenant's <c>tenant_quotas</c> row (exclusive, moving its version forward).
/// When that version is not the one the ledger was last read or written at, another writer changed the leases (the
/// reaper, a gateway leaving, another activation of this grain): the ledger is reloaded under the same lock before the
/// grant is computed, so no activation grants from a stale view.
/// </summary>
/// <remarks>
/// Placed on the silo that first receives a call for the tenant: gateways call whichever silo they reach, and a
/// single-silo cluster then never needs a hop.
/// </remarks>
[PreferLocalPlacement]
internal sealed partial class TenantQuotaGrain(
    NpgsqlDataSource dataSource,
    PlatformClock clock,
    LeaseSyncNotifier notifier,
    Telemetry.SiloMetrics metrics,
    ILogger<TenantQuotaGrain> logger) : Grain, ITenantQuotaGrain
{
    private readonly QuotaLedger _ledger = new();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        await LoadAsync(connection, transaction, await ReadVersionAsync(connection, transaction, cancellationToken), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<QuotaAnswer> SyncAsync(QuotaRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var tenantId = this.GetPrimaryKey();
        var cancellationToken = CancellationToken.None;
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

            // Lock order: tenant, gateway, version row. The reaper and gateway leave lock the gateway, then version rows.
            var max = await connection.ExecuteScalarAsync<int?>(new CommandDefinition(
                "SELECT max_connections FROM tenants WHERE id = @tenantId FOR SHARE",
                new { tenantId }, transaction, cancellationToken: cancellationToken));
            if (!await GatewayRegistry.LockLiveGatewayAsync(connection, transaction, request.GatewayId, cancellationToken))
            {
                return new QuotaAnswer(false, 0, 0, false);
            }

            if (max is null)
            {
                // Deleted with its leases and version row (cascade); nothing to grant.
                _ledger.Invalidate();
                return new QuotaAnswer(true, 0, 0, false);
            }

            var version = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                """
                INSERT INTO tenant_quotas (tenant_id, quota_version) VALUES (@tenantId, 1)
                ON CONFLICT (tenant_id) DO UPDATE SET quota_version = tenant_quotas.quota_version + 1
                RETURNING quota_version
                """,
                new { tenantId }, transaction, cancellationToken: cancellationToken));
            if (version - 1 != _ledger.Version)
            {
                LogReloaded(logger, tenantId, _ledger.Version, version - 1);
                await LoadAsync(connection, transaction, version - 1, cancellationToken);
            }

            var now = clock.GetUtcNow();
            var decision = _ledger.Decide(request, max.Value, now);
            await connection.ExecuteAsync(new CommandDefinition(
                decision.Stored == 0
                    ? "DELETE FROM quota_leases WHERE tenant_id = @tenantId AND gateway_id = @gatewayId"
                    : """
                      INSERT INTO quota_leases (tenant_id, gateway_id, slots, updated_at) VALUES (@tenantId, @gatewayId, @slots, @now)
                      ON CONFLICT (tenant_id, gateway_id) DO UPDATE SET slots = excluded.slots, updated_at = excluded.updated_at
                      """,
                new { tenantId, gatewayId = request.GatewayId, slots = decision.Stored, now }, transaction, cancellationToken: cancellationToken));
            await transaction.CommitAsync(cancellationToken);

            _ledger.Apply(decision, version, now);
            foreach (var gatewayId in decision.ReclaimFrom)
            {
                notifier.Request(gatewayId, tenantId);
            }

            if (decision.ReclaimFrom.Count > 0)
            {
                LogReclaiming(logger, tenantId, decision.Reserve, request.GatewayId, decision.ReclaimFrom.Count);
            }

            metrics.LeaseAnswered(request.Slots, request.Held ?? 0, decision.Answer, decision.Reclaiming);
            return new QuotaAnswer(true, decision.Answer, max.Value, decision.Reclaiming);
        }
        catch
        {
            // Whether the grant was stored is unknown: the next call reloads rather than trust the ledger.
            _ledger.Invalidate();
            throw;
        }
    }

    private Task<long> ReadVersionAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COALESCE((SELECT quota_version FROM tenant_quotas WHERE tenant_id = @tenantId), 0)",
            new { tenantId = this.GetPrimaryKey() }, transaction, cancellationToken: cancellationToken));

    private async Task LoadAsync(DbConnection connection, DbTransaction transaction, long version, CancellationToken cancellationToken)
    {
        var leases = await connection.QueryAsync<(string GatewayId, int Slots)>(new CommandDefinition(
            "SELECT gateway_id, slots FROM quota_leases WHERE tenant_id = @tenantId",
            new { tenantId = this.GetPrimaryKey() }, transaction, cancellationToken: cancellationToken));
        _ledger.Load(version, leases);
    }

    [LoggerMessage(EventId = 7100, Level = LogLevel.Information, Message = "Leases of tenant {TenantId} changed outside this activation (version {Held}, stored {Stored}); reloaded before granting")]
    private static partial void LogReloaded(ILogger logger, Guid tenantId, long held, long stored);

    [LoggerMessage(EventId = 7104, Level = LogLevel.Debug, Message = "Tenant {TenantId}: reclaiming unused slots from {Gateways} gateways, {Reserved} reserved for gateway {GatewayId}")]
    private static partial void LogReclaiming(ILogger logger, Guid tenantId, int reserved, string gatewayId, int gateways);
}
