using System.Data.Common;
using Dapper;
using Platform.Contracts.Internal;
using Platform.Contracts.Problems;
using Platform.Contracts.Stats;
using Platform.Contracts.Tenants;
using Platform.Silo.Tenants;

namespace Platform.Silo.Stats;

/// <summary>Per-minute refusal counts in <c>refusal_counts</c>: written from gateway heartbeats, read by the REST API.</summary>
internal static class RefusalStore
{
    public const int MaxDeltasPerBatch = 5000;
    private const int MaxTextLength = 100;

    public static List<FieldError> Validate(RefusalBatch batch)
    {
        var errors = new List<FieldError>();
        if (batch.Sequence < 1)
        {
            errors.Add(new("refusals.sequence", FieldErrorCodes.OutOfRange, "Must be at least 1."));
        }

        if (batch.Counts.Count > MaxDeltasPerBatch)
        {
            errors.Add(new("refusals.counts", FieldErrorCodes.OutOfRange, $"At most {MaxDeltasPerBatch} counts per batch."));
            return errors;
        }

        for (var i = 0; i < batch.Counts.Count; i++)
        {
            var delta = batch.Counts[i];
            if (delta.Count < 1)
            {
                errors.Add(new($"refusals.counts[{i}].count", FieldErrorCodes.OutOfRange, "Must be at least 1."));
            }

            // The one vocabulary of refusals: what is stored here is what /refusals lists and the refused ws clients read.
            if (!RefusalReasons.TryParse(delta.Reason, out _))
            {
                errors.Add(new($"refusals.counts[{i}].reason", FieldErrorCodes.InvalidFormat, "Not a refusal reason (RefusalReasons)."));
            }

            if (delta.Tenant.Length > MaxTextLength || delta.Protocol.Length > MaxTextLength)
            {
                errors.Add(new($"refusals.counts[{i}]", FieldErrorCodes.TooLong, "Tenant and protocol are at most 100 characters."));
            }
        }

        return errors;
    }

    /// <summary>
    /// Adds a batch to the minute buckets. Slugs are resolved to tenant ids here: a slug no tenant has
    /// (deleted meanwhile) counts as "no tenant". Minutes are truncated and never later than now.
    /// </summary>
    public static async Task AddAsync(DbConnection connection, DbTransaction transaction, RefusalBatch batch, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var counts = batch.Counts;
        var rows = await connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO refusal_counts (minute, tenant_id, protocol, reason, count)
            SELECT date_trunc('minute', LEAST(d.minute, @now)), t.id, d.protocol, d.reason, sum(d.count)
            FROM unnest(@minutes::timestamptz[], @slugs::text[], @protocols::text[], @reasons::text[], @counts::bigint[])
                 AS d (minute, slug, protocol, reason, count)
            LEFT JOIN tenants t ON t.slug = d.slug
            GROUP BY 1, 2, 3, 4
            ON CONFLICT (minute, tenant_id, protocol, reason) DO UPDATE SET count = refusal_counts.count + excluded.count
            """,
            new
            {
                now,
                minutes = counts.Select(c => c.Minute.UtcDateTime).ToArray(),
                slugs = counts.Select(c => c.Tenant).ToArray(),
                protocols = counts.Select(c => c.Protocol).ToArray(),
                reasons = counts.Select(c => c.Reason).ToArray(),
                counts = counts.Select(c => c.Count).ToArray(),
            },
            transaction, cancellationToken: cancellationToken));
        if (rows < 1 && counts.Count > 0)
        {
            throw new InvalidOperationException("A refusal batch with counts wrote no row.");
        }
    }

    /// <summary>Drops buckets older than the retention.</summary>
    public static Task<int> PruneAsync(DbConnection connection, DbTransaction transaction, DateTimeOffset cutoff, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM refusal_counts WHERE minute < @cutoff", new { cutoff }, transaction, cancellationToken: cancellationToken));

    /// <summary>Totals per reason and a page of buckets since <paramref name="since"/>; every tenant when <paramref name="tenantId"/> is null.</summary>
    public static async Task<RefusalReport> ReportAsync(
        DbConnection connection, Guid? tenantId, DateTimeOffset since, int offset, int limit, CancellationToken cancellationToken)
    {
        const string filter = "WHERE r.minute >= @since AND (@tenantId::uuid IS NULL OR r.tenant_id = @tenantId)";
        var parameters = new { tenantId, since, offset, limit };
        var totals = (await connection.QueryAsync<ReasonRow>(new CommandDefinition(
            $"""
            SELECT r.reason AS Reason, sum(r.count)::bigint AS Count
            FROM refusal_counts r
            {filter}
            GROUP BY r.reason
            ORDER BY 2 DESC, 1
            """,
            parameters, cancellationToken: cancellationToken))).ToList();
        var bucketCount = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            $"SELECT count(*) FROM refusal_counts r {filter}", parameters, cancellationToken: cancellationToken));
        var buckets = await connection.QueryAsync<BucketRow>(new CommandDefinition(
            $"""
            SELECT r.minute AS Minute, t.slug AS Tenant, r.protocol AS Protocol, r.reason AS Reason, r.count AS Count
            FROM refusal_counts r
            LEFT JOIN tenants t ON t.id = r.tenant_id
            {filter}
            ORDER BY r.minute DESC, r.count DESC, t.slug NULLS FIRST, r.protocol, r.reason
            OFFSET @offset LIMIT @limit
            """,
            parameters, cancellationToken: cancellationToken));
        var items = buckets.Select(b => new RefusalBucket(
            TenantStore.Utc(b.Minute), b.Tenant, b.Protocol.Length == 0 ? null : b.Protocol, b.Reason, b.Count)).ToList();
        return new RefusalReport(
            since,
            totals.Sum(t => t.Count),
            totals.Select(t => new RefusalReasonTotal(t.Reason, t.Count)).ToList(),
            new Page<RefusalBucket>(items, bucketCount, offset, limit));
    }

    private sealed record ReasonRow(string Reason, long Count);

    private sealed class BucketRow
    {
        public DateTime Minute { get; init; }
        public string? Tenant { get; init; }
        public string Protocol { get; init; } = "";
        public string Reason { get; init; } = "";
        public long Count { get; init; }
    }
}
