namespace Platform.Contracts.Usage;

/// <summary>The granularities of <c>GET /v1/tenants/{slug}/usage</c>.</summary>
public static class UsageGranularities
{
    /// <summary>One bucket per UTC hour.</summary>
    public const string Hour = "hour";

    /// <summary>One bucket per UTC day.</summary>
    public const string Day = "day";
}

/// <summary>What was used in one bucket (an hour or a day, UTC) over one protocol, or in total.</summary>
/// <param name="ConnectionSeconds">Seconds connections were open, summed over connections (connections still open count up to the time of the read).</param>
/// <param name="PeakConcurrent">Most connections open at the same time.</param>
/// <param name="ConnectionsOpened">Connections admitted.</param>
/// <param name="MessagesIn">Messages from clients (WebSocket messages, DTLS datagrams; for TCP and TLS, framed messages when framing is set).</param>
/// <param name="MessagesOut">Messages to clients.</param>
/// <param name="BytesIn">Payload bytes from clients.</param>
/// <param name="BytesOut">Payload bytes to clients.</param>
public sealed record UsageFigures(
    decimal ConnectionSeconds,
    long PeakConcurrent,
    long ConnectionsOpened,
    long MessagesIn,
    long MessagesOut,
    long BytesIn,
    long BytesOut);

/// <summary>One bucket of a tenant's usage over one protocol.</summary>
/// <param name="Start">Start of the UTC hour or day.</param>
/// <param name="Protocol"><c>tcp</c>, <c>tls</c>, <c>ws</c>, <c>wss</c> or <c>dtls</c>.</param>
/// <param name="Usage">What was used.</param>
public sealed record UsageBucket(DateTimeOffset Start, string Protocol, UsageFigures Usage);

/// <summary>Answer of <c>GET /v1/tenants/{slug}/usage</c>.</summary>
/// <param name="Tenant">The tenant's slug.</param>
/// <param name="From">Start of the first bucket (inclusive).</param>
/// <param name="To">End of the range (exclusive).</param>
/// <param name="Granularity"><c>hour</c> or <c>day</c>.</param>
/// <param name="At">When the figures were read (open connections' seconds count up to here).</param>
/// <param name="Totals">The whole range over every protocol; its peak is the largest peak of one bucket and protocol.</param>
/// <param name="Buckets">Buckets with any usage, oldest first, then by protocol.</param>
public sealed record TenantUsageResponse(
    string Tenant,
    DateTimeOffset From,
    DateTimeOffset To,
    string Granularity,
    DateTimeOffset At,
    UsageFigures Totals,
    IReadOnlyList<UsageBucket> Buckets);

/// <summary>One row of the operators' usage export: a tenant's usage in one UTC hour over one protocol.</summary>
/// <param name="TenantId">The tenant's id (kept after the tenant is deleted).</param>
/// <param name="Tenant">The tenant's slug; null once the tenant is deleted.</param>
/// <param name="Hour">Start of the UTC hour.</param>
/// <param name="Protocol"><c>tcp</c>, <c>tls</c>, <c>ws</c>, <c>wss</c> or <c>dtls</c>.</param>
/// <param name="Usage">What was used.</param>
public sealed record UsageExportRow(Guid TenantId, string? Tenant, DateTimeOffset Hour, string Protocol, UsageFigures Usage);

/// <summary>Answer of <c>GET /v1/usage</c> (operators only) as JSON.</summary>
/// <param name="From">Start of the first hour (inclusive).</param>
/// <param name="To">End of the range (exclusive).</param>
/// <param name="At">When the figures were read.</param>
/// <param name="Rows">Every tenant's hours with any usage, oldest first, then by tenant id and protocol.</param>
public sealed record UsageExportResponse(DateTimeOffset From, DateTimeOffset To, DateTimeOffset At, IReadOnlyList<UsageExportRow> Rows);
