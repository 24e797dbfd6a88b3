using System.Data.Common;
using Dapper;

namespace Platform.Silo.Usage;

/// <summary>
/// Adds what changed on connection rows to the hourly usage of their tenant (<c>usage_hours</c>, migration 0016), in the
/// caller's transaction, right after the caller changed the rows. A connection row carries what of it was already
/// counted (<c>metered_*</c>); settling adds only the difference and marks the row counted, so settling twice, or
/// after a batch applied twice, adds nothing. The callers hold the lock of every affected tenant's
/// <c>tenant_connection_versions</c> row, so two settlements of one tenant never interleave.
/// </summary>
/// <remarks>
/// Where each figure lands: a connection is counted as opened in the hour of its opening; counters grow in the hour of
/// the connection's last activity as reported with them; connection-seconds are split over the hours between the
/// last settled time and the close (connections still open accrue at read time, see <see cref="UsageStore"/>); the peak
/// of concurrent connections is the tenant's open count per protocol, taken at every change by the silo's clock.
/// </remarks>
internal static class UsageMeter
{
    /// <summary>Settles the given connections of one tenant (those just opened, counted or closed).</summary>
    public static Task SettleAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, IReadOnlyCollection<string> ids, DateTimeOffset now,
        CancellationToken cancellationToken) =>
        ids.Count == 0
            ? Task.CompletedTask
            : SettleWhereAsync(connection, transaction, "c.tenant_id = @tenantId AND c.id = ANY(@ids)", new { tenantId, ids = ids.ToArray() }, now, cancellationToken);

    /// <summary>Settles the connections of the given gateways closed in bulk at <paramref name="now"/> (by the caller, just before).</summary>
    public static Task SettleGatewaysAsync(
        DbConnection connection, DbTransaction transaction, string[] gatewayIds, DateTimeOffset now, CancellationToken cancellationToken) =>
        SettleWhereAsync(connection, transaction, "c.gateway_id = ANY(@gatewayIds) AND c.closed_at = @now", new { gatewayIds, now }, now, cancellationToken);

    private static async Task SettleWhereAsync(
        DbConnection connection, DbTransaction transaction, string filter, object parameters, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        var touched = (await connection.QueryAsync<Touched>(new CommandDefinition(
            $"""
            WITH pending AS (
                SELECT c.id, c.tenant_id, c.protocol, c.opened_at, c.closed_at, c.last_activity_at,
                       GREATEST(c.bytes_in - c.metered_bytes_in, 0) AS bytes_in,
                       GREATEST(c.bytes_out - c.metered_bytes_out, 0) AS bytes_out,
                       GREATEST(c.messages_in - c.metered_messages_in, 0) AS messages_in,
                       GREATEST(c.messages_out - c.metered_messages_out, 0) AS messages_out,
                       c.metered_until IS NULL AS newly_opened,
                       c.closed_at IS NOT NULL AND (c.metered_until IS NULL OR c.closed_at > c.metered_until) AS closing,
                       COALESCE(c.metered_until, c.opened_at) AS seconds_from,
                       CASE WHEN c.closed_at IS NULL THEN COALESCE(c.metered_until, c.opened_at)
                            ELSE GREATEST(c.closed_at, COALESCE(c.metered_until, c.opened_at)) END AS seconds_to
                FROM connections c
                WHERE {filter}
                  AND (c.metered_until IS NULL
                       OR c.bytes_in <> c.metered_bytes_in OR c.bytes_out <> c.metered_bytes_out
                       OR c.messages_in <> c.metered_messages_in OR c.messages_out <> c.metered_messages_out
                       OR (c.closed_at IS NOT NULL AND c.closed_at > c.metered_until))
                FOR UPDATE OF c
            ),
            marked AS (
                UPDATE connections c
                SET metered_bytes_in = GREATEST(c.bytes_in, c.metered_bytes_in), metered_bytes_out = GREATEST(c.bytes_out, c.metered_bytes_out),
                    metered_messages_in = GREATEST(c.messages_in, c.metered_messages_in),
                    metered_messages_out = GREATEST(c.messages_out, c.metered_messages_out),
                    metered_until = p.seconds_to
                FROM pending p
                WHERE c.id = p.id
            ),
            parts AS (
                SELECT tenant_id, protocol, date_trunc('hour', opened_at, 'UTC') AS hour,
                       0::numeric AS seconds, 1 AS opened, 0::bigint AS messages_in, 0::bigint AS messages_out, 0::bigint AS bytes_in, 0::bigint AS bytes_out
                FROM pending WHERE newly_opened
                UNION ALL
                SELECT tenant_id, protocol, date_trunc('hour', GREATEST(last_activity_at, opened_at), 'UTC'),
                       0, 0, messages_in, messages_out, bytes_in, bytes_out
                FROM pending WHERE messages_in > 0 OR messages_out > 0 OR bytes_in > 0 OR bytes_out > 0
                UNION ALL
                SELECT p.tenant_id, p.protocol, h.hour,
                       EXTRACT(EPOCH FROM LEAST(h.hour + interval '1 hour', p.seconds_to) - GREATEST(h.hour, p.seconds_from)),
                       0, 0, 0, 0, 0
                FROM pending p
                CROSS JOIN LATERAL generate_series(date_trunc('hour', p.seconds_from, 'UTC'), p.seconds_to, interval '1 hour') AS h(hour)
                WHERE p.seconds_to > p.seconds_from AND h.hour < p.seconds_to
                UNION ALL
                -- A close always leaves a row, so its tenant's open count is looked at even for a zero-length connection.
                SELECT tenant_id, protocol, date_trunc('hour', closed_at, 'UTC'), 0, 0, 0, 0, 0, 0
                FROM pending WHERE closing
            ),
            added AS (
                INSERT INTO usage_hours AS u (tenant_id, hour, protocol, connection_seconds, connections_opened,
                                              messages_in, messages_out, bytes_in, bytes_out)
                SELECT tenant_id, hour, protocol, sum(seconds), sum(opened), sum(messages_in), sum(messages_out), sum(bytes_in), sum(bytes_out)
                FROM parts
                GROUP BY tenant_id, hour, protocol
                ON CONFLICT (tenant_id, hour, protocol) DO UPDATE SET
                    connection_seconds = u.connection_seconds + excluded.connection_seconds,
                    connections_opened = u.connections_opened + excluded.connections_opened,
                    messages_in = u.messages_in + excluded.messages_in, messages_out = u.messages_out + excluded.messages_out,
                    bytes_in = u.bytes_in + excluded.bytes_in, bytes_out = u.bytes_out + excluded.bytes_out
                RETURNING u.tenant_id, u.protocol
            ),
            -- The opens and closes just settled, in the order the gateway reported them (a close before an open at the
            -- same instant): how far the open count rose above where it stood before them, and where it ended.
            steps AS (
                SELECT tenant_id, protocol, opened_at AS at, 1 AS step FROM pending WHERE newly_opened
                UNION ALL
                SELECT tenant_id, protocol, closed_at, -1 FROM pending WHERE closing
            ),
            levels AS (
                SELECT tenant_id, protocol, step,
                       sum(step) OVER (PARTITION BY tenant_id, protocol ORDER BY at, step ROWS UNBOUNDED PRECEDING) AS level
                FROM steps
            ),
            swept AS (
                SELECT tenant_id, protocol, sum(step) AS net, GREATEST(max(level), 0) AS rise FROM levels GROUP BY tenant_id, protocol
            )
            SELECT DISTINCT a.tenant_id AS TenantId, a.protocol AS Protocol, COALESCE(s.net, 0)::bigint AS Net, COALESCE(s.rise, 0)::bigint AS Rise
            FROM added a
            LEFT JOIN swept s ON s.tenant_id = a.tenant_id AND s.protocol = a.protocol
            UNION
            -- Open connections named with nothing to add (one the reaper closed, reopened when its gateway came back):
            -- their tenant's open count is looked at all the same.
            SELECT DISTINCT c.tenant_id, c.protocol, 0::bigint, 0::bigint
            FROM connections c
            WHERE {filter} AND c.closed_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM added a WHERE a.tenant_id = c.tenant_id AND a.protocol = c.protocol)
            """,
            parameters, transaction, cancellationToken: cancellationToken))).ToArray();
        if (touched.Length == 0)
        {
            return;
        }

        await RecordOpenCountsAsync(connection, transaction, touched, now, cancellationToken);
    }

    /// <summary>
    /// Raises the peak of the current hour (silo clock) to the highest open count the settled opens and closes reached:
    /// the count before them (the count now, less their net change) plus how far they rose. Where the count changed
    /// since it was last recorded, fills the hours since that change, which held the old count throughout, and records
    /// the new count.
    /// </summary>
    private static Task<int> RecordOpenCountsAsync(
        DbConnection connection, DbTransaction transaction, Touched[] touched, DateTimeOffset now, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            """
            WITH touched AS (
                SELECT * FROM unnest(@tenantIds, @protocols, @nets, @rises) AS p(tenant_id, protocol, net, rise)
                -- A deleted tenant has no open count to keep.
                WHERE EXISTS (SELECT 1 FROM tenants t WHERE t.id = p.tenant_id)
            ),
            counts AS (
                SELECT p.tenant_id, p.protocol, p.net, p.rise, o.open_count AS old_count, o.changed_at,
                       (SELECT count(*) FROM connections c
                        WHERE c.tenant_id = p.tenant_id AND c.protocol = p.protocol AND c.closed_at IS NULL) AS new_count
                FROM touched p
                LEFT JOIN usage_open_counts o ON o.tenant_id = p.tenant_id AND o.protocol = p.protocol
            ),
            saved AS (
                INSERT INTO usage_open_counts AS o (tenant_id, protocol, open_count, changed_at)
                SELECT tenant_id, protocol, new_count, @now FROM counts WHERE old_count IS DISTINCT FROM new_count
                ON CONFLICT (tenant_id, protocol) DO UPDATE SET open_count = excluded.open_count, changed_at = excluded.changed_at
            ),
            peaks AS (
                SELECT tenant_id, protocol, date_trunc('hour', @now, 'UTC') AS hour,
                       GREATEST(new_count - net + rise, new_count, COALESCE(old_count, 0)) AS peak
                FROM counts
                UNION ALL
                SELECT c.tenant_id, c.protocol, h.hour, c.old_count
                FROM counts c
                CROSS JOIN LATERAL generate_series(
                    GREATEST(date_trunc('hour', c.changed_at, 'UTC') + interval '1 hour', date_trunc('hour', @now, 'UTC') - interval '400 days'),
                    date_trunc('hour', @now, 'UTC') - interval '1 hour', interval '1 hour') AS h(hour)
                WHERE c.old_count > 0 AND c.old_count IS DISTINCT FROM c.new_count
            )
            INSERT INTO usage_hours AS u (tenant_id, hour, protocol, peak_concurrent)
            SELECT tenant_id, hour, protocol, max(peak) FROM peaks WHERE peak > 0 GROUP BY tenant_id, hour, protocol
            ON CONFLICT (tenant_id, hour, protocol) DO UPDATE SET peak_concurrent = GREATEST(u.peak_concurrent, excluded.peak_concurrent)
            """,
            new
            {
                tenantIds = touched.Select(p => p.TenantId).ToArray(),
                protocols = touched.Select(p => p.Protocol).ToArray(),
                nets = touched.Select(p => p.Net).ToArray(),
                rises = touched.Select(p => p.Rise).ToArray(),
                now,
            },
            transaction, cancellationToken: cancellationToken));

    private sealed record Touched(Guid TenantId, string Protocol, long Net, long Rise);
}
