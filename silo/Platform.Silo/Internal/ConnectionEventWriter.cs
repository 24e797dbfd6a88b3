using System.Text.Json;
using Dapper;
using Npgsql;
using Platform.Contracts;
using Platform.Contracts.Connections;
using Platform.Contracts.Internal;

namespace Platform.Silo.Internal;

/// <summary>
/// Applies a gateway's batch of connection-directory events in one transaction with one statement per
/// event kind. Gateways retry batches, so every statement is idempotent. A gateway that registers again
/// after the silo forgot it (declared dead, or it re-registered) announces its live connections again:
/// rows the silo closed on its behalf are reopened; rows the gateway itself closed stay closed.
/// </summary>
internal sealed partial class ConnectionEventWriter(NpgsqlDataSource dataSource, ILogger<ConnectionEventWriter> logger)
{
    /// <summary>Applies the batch; false when the gateway is unknown or dead.</summary>
    public async Task<bool> ApplyAsync(string gatewayId, ConnectionEventBatch batch, CancellationToken cancellationToken)
    {
        // One connection may be opened twice in a batch: a gateway that registers again announces its live connections
        // beside the open events it still had queued. One INSERT … ON CONFLICT must not name a row twice.
        var opened = batch.Opened.Where(o => Owns(gatewayId, o.Id)).GroupBy(o => o.Id).Select(g => g.First()).ToList();
        // Counters are absolute and only grow, so of several reports for one connection the largest wins.
        var counters = batch.Counters.Where(c => Owns(gatewayId, c.Id)).GroupBy(c => c.Id).Select(g => g.MaxBy(c => c.BytesIn + c.BytesOut + c.MessagesIn + c.MessagesOut)!).ToList();
        var closed = batch.Closed.Where(c => Owns(gatewayId, c.Counters.Id)).GroupBy(c => c.Counters.Id).Select(g => g.First()).ToList();
        var foreign = batch.Opened.Count + batch.Counters.Count + batch.Closed.Count - batch.Opened.Count(o => Owns(gatewayId, o.Id))
            - batch.Counters.Count(c => Owns(gatewayId, c.Id)) - batch.Closed.Count(c => Owns(gatewayId, c.Counters.Id));
        if (foreign > 0)
        {
            LogForeignEvents(logger, gatewayId, foreign);
        }

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (!await GatewayRegistry.LockLiveGatewayAsync(connection, transaction, gatewayId, cancellationToken))
        {
            return false;
        }

        if (opened.Count > 0)
        {
            // Unknown tenants drop out in the join: a tenant deleted while its connection opened is not an error.
            await connection.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO connections (id, tenant_id, gateway_id, protocol, remote_address, remote_port, local_port,
                                         opened_at, last_activity_at, tls, websocket)
                SELECT o.id, o.tenant_id, @gatewayId, o.protocol, o.remote_address, o.remote_port, o.local_port,
                       o.opened_at, o.opened_at, o.tls::jsonb, o.websocket::jsonb
                FROM unnest(@ids, @tenantIds, @protocols, @remoteAddresses, @remotePorts, @localPorts, @openedAts, @tls, @websockets)
                     AS o(id, tenant_id, protocol, remote_address, remote_port, local_port, opened_at, tls, websocket)
                JOIN tenants t ON t.id = o.tenant_id
                ON CONFLICT (id) DO UPDATE SET closed_at = NULL, close_code = NULL, close_reason = NULL
                WHERE connections.gateway_id = excluded.gateway_id
                  AND connections.closed_at IS NOT NULL
                  AND connections.close_reason IN (@lostReason, @restartedReason)
                """,
                new
                {
                    gatewayId,
                    lostReason = GatewayReaper.LostReason,
                    restartedReason = GatewayRegistry.RestartedReason,
                    ids = opened.Select(o => o.Id).ToArray(),
                    tenantIds = opened.Select(o => o.TenantId).ToArray(),
                    protocols = opened.Select(o => o.Protocol).ToArray(),
                    remoteAddresses = opened.Select(o => o.RemoteAddress).ToArray(),
                    remotePorts = opened.Select(o => o.RemotePort).ToArray(),
                    localPorts = opened.Select(o => o.LocalPort).ToArray(),
                    openedAts = opened.Select(o => o.OpenedAt.UtcDateTime).ToArray(),
                    tls = opened.Select(o => Json(o.Tls)).ToArray(),
                    websockets = opened.Select(o => Json(o.WebSocket)).ToArray(),
                },
                transaction, cancellationToken: cancellationToken));
        }

        if (counters.Count > 0)
        {
            await connection.ExecuteAsync(new CommandDefinition(
                $"""
                UPDATE connections c SET {CounterAssignments}
                FROM unnest(@ids, @bytesIn, @bytesOut, @messagesIn, @messagesOut, @lastActivityAts)
                     AS u(id, bytes_in, bytes_out, messages_in, messages_out, last_activity_at)
                WHERE c.id = u.id AND c.gateway_id = @gatewayId AND c.closed_at IS NULL
                """,
                CounterParameters(gatewayId, counters), transaction, cancellationToken: cancellationToken));
        }

        if (closed.Count > 0)
        {
            var parameters = CounterParameters(gatewayId, closed.Select(c => c.Counters).ToList());
            parameters.Add("closedAts", closed.Select(c => c.ClosedAt.UtcDateTime).ToArray());
            parameters.Add("closeCodes", closed.Select(c => c.CloseCode).ToArray());
            parameters.Add("closeReasons", closed.Select(c => c.CloseReason).ToArray());
            await connection.ExecuteAsync(new CommandDefinition(
                $"""
                UPDATE connections c SET {CounterAssignments},
                    closed_at = u.closed_at, close_code = u.close_code, close_reason = u.close_reason
                FROM unnest(@ids, @bytesIn, @bytesOut, @messagesIn, @messagesOut, @lastActivityAts, @closedAts, @closeCodes, @closeReasons)
                     AS u(id, bytes_in, bytes_out, messages_in, messages_out, last_activity_at, closed_at, close_code, close_reason)
                WHERE c.id = u.id AND c.gateway_id = @gatewayId AND c.closed_at IS NULL
                """,
                parameters, transaction, cancellationToken: cancellationToken));
        }

        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    private const string CounterAssignments = """
        bytes_in = GREATEST(c.bytes_in, u.bytes_in), bytes_out = GREATEST(c.bytes_out, u.bytes_out),
        messages_in = GREATEST(c.messages_in, u.messages_in), messages_out = GREATEST(c.messages_out, u.messages_out),
        last_activity_at = GREATEST(c.last_activity_at, u.last_activity_at)
        """;

    private static DynamicParameters CounterParameters(string gatewayId, List<ConnectionCounters> counters)
    {
        var parameters = new DynamicParameters();
        parameters.Add("gatewayId", gatewayId);
        parameters.Add("ids", counters.Select(c => c.Id).ToArray());
        parameters.Add("bytesIn", counters.Select(c => c.BytesIn).ToArray());
        parameters.Add("bytesOut", counters.Select(c => c.BytesOut).ToArray());
        parameters.Add("messagesIn", counters.Select(c => c.MessagesIn).ToArray());
        parameters.Add("messagesOut", counters.Select(c => c.MessagesOut).ToArray());
        parameters.Add("lastActivityAts", counters.Select(c => c.LastActivityAt.UtcDateTime).ToArray());
        return parameters;
    }

    private static bool Owns(string gatewayId, string connectionId) =>
        ConnectionId.TryParse(connectionId, out var node, out _) && node == gatewayId;

    private static string? Json<T>(T? value)
        where T : class => value is null ? null : JsonSerializer.Serialize(value, PlatformJson.Options);

    [LoggerMessage(EventId = 3300, Level = LogLevel.Warning, Message = "Gateway {NodeId} reported {Count} events for connection ids it does not own; skipped")]
    private static partial void LogForeignEvents(ILogger logger, string nodeId, int count);
}
