using Platform.Contracts.Config;
using Platform.Contracts.Problems;

namespace Platform.Contracts.Tenants;

/// <summary>Body of <c>GET</c> and <c>PUT /v1/tenants/{slug}/config</c>; the ETag header carries the revision.</summary>
/// <param name="Revision">Configuration revision.</param>
/// <param name="Config">The configuration, secrets removed.</param>
/// <param name="Warnings">
/// Settings that are valid but weaken the tenant's own policy (for example a plain listener while client certificates
/// are required); empty when there are none.
/// </param>
public sealed record ConfigResponse(long Revision, TenantConfig Config, IReadOnlyList<FieldError>? Warnings = null);
