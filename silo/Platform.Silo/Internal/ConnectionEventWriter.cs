using System.Text.Json;
using Dapper;
using Npgsql;
using Platform.Contracts;
using Platform.Contracts.Connections;
using Platform.Contracts.Internal;
using Platform.Silo.Connections;
using Platform.Silo.Connections.Live;

namespace Platform.Silo.Internal;

/// <summary>
/// Applies a gateway's batch of connection-directory events: splits it per tenant and applies each tenant's part
/// through that tenant's <see cref="ITenantConnectionsGrain"/>, all tenants at once, each part stored in one transaction
/// before its grain answers. The batch counts as taken only when every part is stored; otherwise the call fails and the
/// gateway sends the same batch again, which is harmless because every statement is idempotent. A gateway that
/// registers again after the silo forgot it (declared dead, or it re-registered) announces its live connections again:
/// rows the silo closed on its behalf are reopened; rows the gateway itself closed stay closed.
/// </summary>
internal sealed partial class ConnectionEventWriter(NpgsqlDataSource dataSource, IGrainFactory grains, ILogger<ConnectionEventWriter> logger)
{
    /// <summary>Applies the batch; false when the gateway is unknown or dead.</summary>
    public async Task<bool> ApplyAsync(string gatewayId, ConnectionEventBatch batch, CancellationToken cancellationToken)
    {
        // One connection may be opened twice in a batch: a gateway that registers again announces its live connections
        // beside the open events it still had queued; it is stored once.
        var opened = batch.Opened.Where(o => Owns(gatewayId, o.Id)).DistinctBy(o => o.Id).ToList();
        // Counters are absolute and only grow, so of several reports for one connection the largest wins.
        var counters = batch.Counters.Where(c => Owns(gatewayId, c.Id)).GroupBy(c => c.Id).Select(g => g.MaxBy(c => c.BytesIn + c.BytesOut + c.MessagesIn + c.MessagesOut)!).ToList();
        var closed = batch.Closed.Where(c => Owns(gatewayId, c.Counters.Id)).GroupBy(c => c.Counters.Id).Select(g => g.First()).ToList();
        var foreign = batch.Opened.Count(o => !Owns(gatewayId, o.Id)) + batch.Counters.Count(c => !Owns(gatewayId, c.Id))
            + batch.Closed.Count(c => !Owns(gatewayId, c.Counters.Id));
        if (foreign > 0)
        {
            LogForeignEvents(logger, gatewayId, foreign);
        }

        var tenantOf = await TenantsOfAsync(gatewayId, opened, counters.Select(c => c.Id).Concat(closed.Select(c => c.Counters.Id)), cancellationToken);
        var parts = new Dictionary<Guid, (List<ConnectionOpenedEvent> Opened, List<ConnectionCountersEvent> Counters, List<ConnectionClosedEvent> Closed)>();
        (List<ConnectionOpenedEvent> Opened, List<ConnectionCountersEvent> Counters, List<ConnectionClosedEvent> Closed) PartOf(Guid tenantId)
        {
            if (!parts.TryGetValue(tenantId, out var part))
            {
                part = ([], [], []);
                parts[tenantId] = part;
            }

            return part;
        }

        foreach (var o in opened)
        {
            // The gateway refuses a webhook answer that breaks the metadata rules; what breaks them here anyway is not
            // stored (the connection is), and the warning says so.
            var metadata = StoredMetadata.Json(o.Metadata, out var metadataValid);
            var forwardTarget = o.ForwardTarget is { } target && StoredMetadata.IsForwardTarget(target) ? target : null;
            if (!metadataValid || forwardTarget != o.ForwardTarget)
            {
                LogRefusedFacts(logger, gatewayId, o.Id, !metadataValid, forwardTarget != o.ForwardTarget);
            }

            PartOf(o.TenantId).Opened.Add(new ConnectionOpenedEvent(
                o.Id, o.Protocol, o.RemoteAddress, o.RemotePort, o.LocalPort, o.OpenedAt.UtcDateTime, Json(o.Tls), Json(o.WebSocket),
                metadata, forwardTarget));
        }

        // A connection the directory does not know (its tenant was deleted, or it was never stored) has nothing to update.
        foreach (var c in counters.Where(c => tenantOf.ContainsKey(c.Id)))
        {
            PartOf(tenantOf[c.Id]).Counters.Add(Counters(c));
        }

        foreach (var c in closed.Where(c => tenantOf.ContainsKey(c.Counters.Id)))
        {
            PartOf(tenantOf[c.Counters.Id]).Closed.Add(new ConnectionClosedEvent(Counters(c.Counters), c.ClosedAt.UtcDateTime, c.CloseCode, c.CloseReason));
        }

        if (parts.Count == 0)
        {
            return await IsLiveAsync(gatewayId, cancellationToken);
        }

        var answers = await Task.WhenAll(parts.Select(p => grains.GetGrain<ITenantConnectionsGrain>(p.Key)
            .ApplyAsync(new TenantConnectionEvents(gatewayId, p.Value.Opened, p.Value.Counters, p.Value.Closed))));
        return answers.All(live => live);
    }

    /// <summary>
    /// The tenant of every connection the batch names: from its open event in this batch, else from the directory. Ids
    /// carry their gateway, and a gateway sends its batches one after another, so a row this lookup misses cannot appear
    /// before the batch is applied.
    /// </summary>
    private async Task<Dictionary<string, Guid>> TenantsOfAsync(
        string gatewayId, List<ConnectionOpened> opened, IEnumerable<string> ids, CancellationToken cancellationToken)
    {
        var tenantOf = opened.ToDictionary(o => o.Id, o => o.TenantId, StringComparer.Ordinal);
        var lookup = ids.Where(id => !tenantOf.ContainsKey(id)).Distinct(StringComparer.Ordinal).ToArray();
        if (lookup.Length > 0)
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            var rows = await connection.QueryAsync<(string Id, Guid TenantId)>(new CommandDefinition(
                "SELECT id, tenant_id FROM connections WHERE gateway_id = @gatewayId AND id = ANY(@lookup)",
                new { gatewayId, lookup }, cancellationToken: cancellationToken));
            foreach (var (id, tenantId) in rows)
            {
                tenantOf[id] = tenantId;
            }
        }

        return tenantOf;
    }

    private async Task<bool> IsLiveAsync(string gatewayId, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT EXISTS (SELECT 1 FROM gateway_nodes WHERE id = @gatewayId AND status IN ('up', 'draining'))",
            new { gatewayId }, cancellationToken: cancellationToken));
    }

    private static ConnectionCountersEvent Counters(ConnectionCounters c) =>
        new(c.Id, c.BytesIn, c.BytesOut, c.MessagesIn, c.MessagesOut, c.LastActivityAt.UtcDateTime, c.RemoteAddress, c.RemotePort);

    private static bool Owns(string gatewayId, string connectionId) =>
        ConnectionId.TryParse(connectionId, out var node, out _) && node == gatewayId;

    private static string? Json<T>(T? value)
        where T : class => value is null ? null : JsonSerializer.Serialize(value, PlatformJson.Options);

    [LoggerMessage(EventId = 3301, Level = LogLevel.Warning, Message = "Gateway {NodeId} reported connection {ConnectionId} with metadata out of bounds ({Metadata}) or a malformed forward target ({ForwardTarget}); stored without them")]
    private static partial void LogRefusedFacts(ILogger logger, string nodeId, string connectionId, bool metadata, bool forwardTarget);

    [LoggerMessage(EventId = 3300, Level = LogLevel.Warning, Message = "Gateway {NodeId} reported {Count} events for connection ids it does not own; skipped")]
    private static partial void LogForeignEvents(ILogger logger, string nodeId, int count);
}
