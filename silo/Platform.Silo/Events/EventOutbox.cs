using System.Data.Common;
using Dapper;

namespace Platform.Silo.Events;

/// <summary>
/// Records lifecycle events in the caller's transaction, the one that changes the connections they are about, so an
/// event exists exactly when its change does. Each tenant's events get the next numbers of its counter row, in the
/// order given (a connection's connected before its disconnected).
/// </summary>
internal static class EventOutbox
{
    /// <summary>
    /// Appends <paramref name="events"/>. Call after locking the tenants' <c>tenant_connection_versions</c> rows: the
    /// counter rows are taken in tenant order, each only ever after its tenant's version row, so writers never deadlock
    /// on them and never interleave numbers.
    /// </summary>
    public static async Task AppendAsync(
        DbConnection connection, DbTransaction transaction, IReadOnlyList<OutboxEvent> events, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (events.Count == 0)
        {
            return;
        }

        var counts = events.GroupBy(e => e.TenantId).Select(g => (Tenant: g.Key, Count: (long)g.Count())).ToList();
        var last = (await connection.QueryAsync<(Guid TenantId, long LastSequence)>(new CommandDefinition(
            """
            INSERT INTO tenant_event_sequences AS s (tenant_id, last_sequence)
            SELECT u.tenant_id, u.n FROM unnest(@tenants, @counts) AS u(tenant_id, n) ORDER BY u.tenant_id
            ON CONFLICT (tenant_id) DO UPDATE SET last_sequence = s.last_sequence + excluded.last_sequence
            RETURNING tenant_id, last_sequence
            """,
            new { tenants = counts.Select(c => c.Tenant).ToArray(), counts = counts.Select(c => c.Count).ToArray() },
            transaction, cancellationToken: cancellationToken))).ToDictionary(r => r.TenantId, r => r.LastSequence);

        // The stream row the webhook sender claims; an existing row is left alone.
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO webhook_streams (tenant_id) SELECT unnest(@tenants) ON CONFLICT (tenant_id) DO NOTHING",
            new { tenants = counts.Select(c => c.Tenant).ToArray() }, transaction, cancellationToken: cancellationToken));

        var next = counts.ToDictionary(c => c.Tenant, c => last[c.Tenant] - c.Count + 1);
        var sequences = new long[events.Count];
        for (var i = 0; i < events.Count; i++)
        {
            sequences[i] = next[events[i].TenantId]++;
        }

        var inserted = await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO tenant_events (tenant_id, sequence, id, type, connection_id, protocol, remote_address, remote_port,
                                       close_code, close_reason, occurred_at, recorded_at, next_attempt_at)
            SELECT u.tenant_id, u.sequence, u.id, u.type, u.connection_id, u.protocol, u.remote_address, u.remote_port,
                   u.close_code, u.close_reason, u.occurred_at, @now, @now
            FROM unnest(@tenantIds, @sequences, @ids, @types, @connectionIds, @protocols, @remoteAddresses, @remotePorts,
                        @closeCodes, @closeReasons, @occurredAts)
                 AS u(tenant_id, sequence, id, type, connection_id, protocol, remote_address, remote_port,
                      close_code, close_reason, occurred_at)
            """,
            new
            {
                now,
                tenantIds = events.Select(e => e.TenantId).ToArray(),
                sequences,
                ids = events.Select(_ => Guid.CreateVersion7(now)).ToArray(),
                types = events.Select(e => e.Type).ToArray(),
                connectionIds = events.Select(e => e.ConnectionId).ToArray(),
                protocols = events.Select(e => e.Protocol).ToArray(),
                remoteAddresses = events.Select(e => e.RemoteAddress).ToArray(),
                remotePorts = events.Select(e => e.RemotePort).ToArray(),
                closeCodes = events.Select(e => e.CloseCode).ToArray(),
                closeReasons = events.Select(e => e.CloseReason).ToArray(),
                occurredAts = events.Select(e => e.OccurredAt.UtcDateTime).ToArray(),
            },
            transaction, cancellationToken: cancellationToken));
        if (inserted != events.Count)
        {
            throw new InvalidOperationException($"Recorded {inserted} of {events.Count} lifecycle events.");
        }
    }
}
