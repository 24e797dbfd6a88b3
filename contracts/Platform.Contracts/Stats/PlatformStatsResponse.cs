namespace Platform.Contracts.Stats;

/// <summary>Answer of <c>GET /v1/stats</c> (operators only): platform-wide totals computed by the database.</summary>
/// <param name="At">When the figures were taken.</param>
/// <param name="Tenants">Tenants, active and suspended.</param>
/// <param name="OpenConnections">Open connections over every tenant.</param>
/// <param name="OpenPerProtocol">Open connections per protocol (<c>ws</c>, <c>wss</c>, <c>tcp</c>, <c>tls</c>, <c>dtls</c>); protocols without any are absent.</param>
/// <param name="LastHour">One point per minute for the last hour, oldest first, ending at the current minute.</param>
/// <param name="ExpiringCertificates">Certificates expiring within 30 days (already expired ones included), soonest first, at most 100.</param>
public sealed record PlatformStatsResponse(
    DateTimeOffset At,
    long Tenants,
    long OpenConnections,
    IReadOnlyDictionary<string, long> OpenPerProtocol,
    IReadOnlyList<MinuteStats> LastHour,
    IReadOnlyList<ExpiringCertificate> ExpiringCertificates);

/// <summary>Connections in one minute.</summary>
/// <param name="Minute">Start of the UTC minute.</param>
/// <param name="Open">Connections open at the end of the minute (or now, for the current minute).</param>
/// <param name="Opened">Connections opened during the minute.</param>
public sealed record MinuteStats(DateTimeOffset Minute, long Open, long Opened);

/// <summary>A certificate close to or past its expiry.</summary>
/// <param name="Tenant">Slug of the tenant owning it.</param>
/// <param name="Id">Certificate id.</param>
/// <param name="Subject">Subject distinguished name.</param>
/// <param name="HostNames">SNI host names it serves.</param>
/// <param name="NotAfter">Expiry.</param>
public sealed record ExpiringCertificate(string Tenant, Guid Id, string Subject, IReadOnlyList<string> HostNames, DateTimeOffset NotAfter);
