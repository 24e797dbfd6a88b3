namespace Platform.Contracts.Plans;

/// <summary>Body of <c>GET</c> and <c>PUT /v1/tenants/{slug}/plan</c>: the plan and what the tenant uses of it.</summary>
/// <param name="Plan">The ceilings.</param>
/// <param name="Usage">What the tenant holds now, counted as the plan counts it.</param>
public sealed record TenantPlanResponse(TenantPlan Plan, TenantPlanUsage Usage);

/// <summary>The resources a tenant holds, beside the counts of its plan.</summary>
/// <param name="DedicatedPorts">Dedicated listener ports.</param>
/// <param name="Certificates">Server certificates.</param>
/// <param name="PskIdentities">DTLS PSK identities.</param>
/// <param name="ApiKeys">Live API keys.</param>
/// <param name="HostNames">Custom host names (configuration and certificates, outside the platform domain).</param>
public sealed record TenantPlanUsage(int DedicatedPorts, int Certificates, int PskIdentities, int ApiKeys, int HostNames);
