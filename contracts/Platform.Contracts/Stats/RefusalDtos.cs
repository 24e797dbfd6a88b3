namespace Platform.Contracts.Stats;

/// <summary>
/// Answer of <c>GET /v1/refusals</c> and <c>GET /v1/tenants/{slug}/refusals</c>: connections the gateways
/// refused since a point in time, totalled per reason and listed per minute.
/// </summary>
/// <param name="Since">Start of the first minute counted.</param>
/// <param name="Total">Refusals since <c>since</c>.</param>
/// <param name="ByReason">Totals per reason, largest first.</param>
/// <param name="Buckets">Per-minute counts, newest first, paged with <c>offset</c> and <c>limit</c>.</param>
public sealed record RefusalReport(DateTimeOffset Since, long Total, IReadOnlyList<RefusalReasonTotal> ByReason, Tenants.Page<RefusalBucket> Buckets);

/// <summary>Refusals of one reason.</summary>
/// <param name="Reason">A name of <see cref="Problems.RefusalReasons"/>, for example <c>max_connections</c> or <c>not_allowed</c>.</param>
/// <param name="Count">Refusals.</param>
public sealed record RefusalReasonTotal(string Reason, long Count);

/// <summary>Refusals of one tenant, protocol and reason within one minute.</summary>
/// <param name="Minute">Start of the UTC minute.</param>
/// <param name="Tenant">Tenant slug; null when the gateway could not tell which tenant was meant (unknown host or SNI name).</param>
/// <param name="Protocol">Protocol; null when the refusing gateway did not record it.</param>
/// <param name="Reason">A name of <see cref="Problems.RefusalReasons"/>.</param>
/// <param name="Count">Refusals summed over every gateway.</param>
public sealed record RefusalBucket(DateTimeOffset Minute, string? Tenant, string? Protocol, string Reason, long Count);
