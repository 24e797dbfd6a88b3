using System.Data.Common;
using Dapper;
using Platform.Contracts.Events;

namespace Platform.Silo.Events;

/// <summary>Reads a tenant's recorded events with their delivery state.</summary>
internal static class EventStore
{
    public static async Task<EventPage> ListAsync(DbConnection connection, Guid tenantId, string slug, long after, int limit, CancellationToken cancellationToken)
    {
        var rows = (await connection.QueryAsync<Row>(new CommandDefinition(
            """
            SELECT sequence AS Sequence, id AS Id, type AS Type, connection_id AS ConnectionId, protocol AS Protocol,
                   remote_address AS RemoteAddress, remote_port AS RemotePort, close_code AS CloseCode, close_reason AS CloseReason,
                   occurred_at AS OccurredAt, state AS State, attempts AS Attempts, last_status AS LastStatus, last_error AS LastError,
                   last_attempt_at AS LastAttemptAt, next_attempt_at AS NextAttemptAt, delivered_at AS DeliveredAt
            FROM tenant_events
            WHERE tenant_id = @tenantId AND sequence > @after
            ORDER BY sequence
            LIMIT @limit
            """,
            new { tenantId, after, limit }, cancellationToken: cancellationToken))).AsList();
        var last = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COALESCE((SELECT last_sequence FROM tenant_event_sequences WHERE tenant_id = @tenantId), 0)",
            new { tenantId }, cancellationToken: cancellationToken));
        var items = rows.Select(r => new EventResponse(
            new LifecycleEvent(r.Id, r.Type, r.Sequence, slug, r.ConnectionId, r.Protocol, r.RemoteAddress, r.RemotePort, r.CloseCode, r.CloseReason, Utc(r.OccurredAt)),
            new EventDelivery(r.State, r.Attempts, r.LastStatus, r.LastError, Utc(r.LastAttemptAt),
                r.State == EventDeliveryStates.Pending ? Utc(r.NextAttemptAt) : null, Utc(r.DeliveredAt)))).ToList();
        return new EventPage(items, last, items.Count > 0 ? items[^1].Event.Sequence : after);
    }

    private static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    private static DateTimeOffset? Utc(DateTime? value) => value is { } v ? Utc(v) : null;

    private sealed record Row(
        long Sequence, Guid Id, string Type, string ConnectionId, string Protocol, string RemoteAddress, int RemotePort,
        int? CloseCode, string? CloseReason, DateTime OccurredAt, string State, int Attempts, int? LastStatus, string? LastError,
        DateTime? LastAttemptAt, DateTime NextAttemptAt, DateTime? DeliveredAt);
}
