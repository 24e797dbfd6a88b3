using Dapper;
using Npgsql;
using Platform.Contracts.Usage;
using Platform.Silo.Tenants;

namespace Platform.Silo.Usage;

/// <summary>
/// Reads usage: the hours <see cref="UsageMeter"/> stored, plus what connections still open have accrued up to the time
/// of the read (their seconds since they were last settled, and their tenant's open count as the peak of every hour
/// since it last changed). Nothing is written by a read, so reading twice never counts twice.
/// </summary>
internal static class UsageStore
{
    /// <summary>Usage rows per (tenant, bucket, protocol) for buckets starting in [from, to), oldest first.</summary>
    /// <param name="tenantId">One tenant, or every tenant when null.</param>
    /// <param name="bucket"><c>hour</c> or <c>day</c> (UTC).</param>
    public static async Task<IReadOnlyList<UsageRow>> ReadAsync(
        NpgsqlConnection connection, Guid? tenantId, DateTimeOffset from, DateTimeOffset to, string bucket, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        // The bucket name is one of two constants, never the caller's text.
        var unit = bucket == UsageGranularities.Day ? "day" : "hour";
        var rows = await connection.QueryAsync<UsageRow>(new CommandDefinition(
            $"""
            WITH stored AS (
                SELECT tenant_id, hour, protocol, connection_seconds AS seconds, peak_concurrent AS peak, connections_opened AS opened,
                       messages_in, messages_out, bytes_in, bytes_out
                FROM usage_hours
                WHERE (@tenantId::uuid IS NULL OR tenant_id = @tenantId) AND hour >= @from AND hour < @to
            ),
            open_seconds AS (
                SELECT c.tenant_id, h.hour, c.protocol,
                       EXTRACT(EPOCH FROM LEAST(h.hour + interval '1 hour', @now) - GREATEST(h.hour, c.metered_until))::numeric AS seconds,
                       0::bigint AS peak, 0::bigint AS opened, 0::bigint AS messages_in, 0::bigint AS messages_out, 0::bigint AS bytes_in, 0::bigint AS bytes_out
                FROM connections c
                CROSS JOIN LATERAL generate_series(GREATEST(date_trunc('hour', c.metered_until, 'UTC'), @from), LEAST(@now, @to), interval '1 hour') AS h(hour)
                WHERE (@tenantId::uuid IS NULL OR c.tenant_id = @tenantId)
                  AND c.closed_at IS NULL AND c.metered_until IS NOT NULL AND c.metered_until < @now
                  AND h.hour < @now AND h.hour < @to
            ),
            open_peaks AS (
                SELECT o.tenant_id, h.hour, o.protocol, 0::numeric AS seconds, o.open_count AS peak,
                       0::bigint AS opened, 0::bigint AS messages_in, 0::bigint AS messages_out, 0::bigint AS bytes_in, 0::bigint AS bytes_out
                FROM usage_open_counts o
                CROSS JOIN LATERAL generate_series(GREATEST(date_trunc('hour', o.changed_at, 'UTC') + interval '1 hour', @from),
                                                   LEAST(date_trunc('hour', @now, 'UTC'), @to), interval '1 hour') AS h(hour)
                WHERE (@tenantId::uuid IS NULL OR o.tenant_id = @tenantId) AND o.open_count > 0 AND h.hour < @to
            ),
            hours AS (
                SELECT tenant_id, hour, protocol, sum(seconds) AS seconds, max(peak) AS peak, sum(opened) AS opened,
                       sum(messages_in) AS messages_in, sum(messages_out) AS messages_out, sum(bytes_in) AS bytes_in, sum(bytes_out) AS bytes_out
                FROM (SELECT * FROM stored UNION ALL SELECT * FROM open_seconds UNION ALL SELECT * FROM open_peaks) AS parts
                GROUP BY tenant_id, hour, protocol
            )
            SELECT h.tenant_id AS TenantId, t.slug AS Tenant, date_trunc('{unit}', h.hour, 'UTC') AS Start, h.protocol AS Protocol,
                   sum(h.seconds) AS ConnectionSeconds, max(h.peak) AS PeakConcurrent, sum(h.opened)::bigint AS ConnectionsOpened,
                   sum(h.messages_in)::bigint AS MessagesIn, sum(h.messages_out)::bigint AS MessagesOut,
                   sum(h.bytes_in)::bigint AS BytesIn, sum(h.bytes_out)::bigint AS BytesOut
            FROM hours h
            LEFT JOIN tenants t ON t.id = h.tenant_id
            GROUP BY h.tenant_id, t.slug, date_trunc('{unit}', h.hour, 'UTC'), h.protocol
            ORDER BY Start, h.tenant_id, h.protocol
            """,
            new { tenantId, from, to, now }, cancellationToken: cancellationToken));
        return rows.AsList();
    }

    /// <summary>The totals of <paramref name="rows"/>: sums, and the largest peak of one row.</summary>
    public static UsageFigures Totals(IEnumerable<UsageRow> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var figures = new UsageFigures(0, 0, 0, 0, 0, 0, 0);
        foreach (var r in rows)
        {
            figures = new UsageFigures(
                figures.ConnectionSeconds + r.ConnectionSeconds,
                Math.Max(figures.PeakConcurrent, r.PeakConcurrent),
                figures.ConnectionsOpened + r.ConnectionsOpened,
                figures.MessagesIn + r.MessagesIn,
                figures.MessagesOut + r.MessagesOut,
                figures.BytesIn + r.BytesIn,
                figures.BytesOut + r.BytesOut);
        }

        return figures;
    }

    // A class rather than a positional record: Dapper maps the columns by name.
    internal sealed class UsageRow
    {
        public Guid TenantId { get; init; }
        public string? Tenant { get; init; }
        public DateTime Start { get; init; }
        public string Protocol { get; init; } = "";
        public decimal ConnectionSeconds { get; init; }
        public long PeakConcurrent { get; init; }
        public long ConnectionsOpened { get; init; }
        public long MessagesIn { get; init; }
        public long MessagesOut { get; init; }
        public long BytesIn { get; init; }
        public long BytesOut { get; init; }

        public DateTimeOffset StartUtc => TenantStore.Utc(Start);

        public UsageFigures Figures => new(ConnectionSeconds, PeakConcurrent, ConnectionsOpened, MessagesIn, MessagesOut, BytesIn, BytesOut);
    }
}
