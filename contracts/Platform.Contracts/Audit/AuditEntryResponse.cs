namespace Platform.Contracts.Audit;

/// <summary>One audit log entry.</summary>
/// <param name="Id">Sequence number.</param>
/// <param name="At">When.</param>
/// <param name="Actor">Who: <c>operator</c>, <c>operator:{name}</c> or <c>api-key:{id}</c>.</param>
/// <param name="TenantSlug">Tenant concerned, if any.</param>
/// <param name="Action">What, for example <c>tenant.create</c>, <c>config.replace</c>.</param>
/// <param name="Target">Object acted on, for example a certificate id.</param>
/// <param name="RevisionBefore">Config revision before the change.</param>
/// <param name="RevisionAfter">Config revision after the change.</param>
/// <param name="Details">Non-secret details of the change.</param>
public sealed record AuditEntryResponse(
    long Id,
    DateTimeOffset At,
    string Actor,
    string? TenantSlug,
    string Action,
    string? Target,
    long? RevisionBefore,
    long? RevisionAfter,
    string? Details);
