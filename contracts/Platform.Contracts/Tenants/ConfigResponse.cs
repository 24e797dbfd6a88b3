using Platform.Contracts.Config;

namespace Platform.Contracts.Tenants;

/// <summary>Body of <c>GET /v1/tenants/{slug}/config</c>; the ETag header carries the revision.</summary>
/// <param name="Revision">Configuration revision.</param>
/// <param name="Config">The configuration, secrets removed.</param>
public sealed record ConfigResponse(long Revision, TenantConfig Config);
