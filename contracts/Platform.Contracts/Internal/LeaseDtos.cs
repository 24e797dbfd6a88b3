namespace Platform.Contracts.Internal;

/// <summary>
/// A gateway states, per tenant, how many MaxConnections slots it wants to hold in total. The silo
/// grants up to what the tenant's other live leases leave free; a lower number gives slots back.
/// </summary>
/// <param name="Leases">Desired totals per tenant.</param>
public sealed record LeaseSyncRequest(IReadOnlyList<LeaseWant> Leases);

/// <summary>Desired slot total for one tenant.</summary>
/// <param name="TenantId">Tenant.</param>
/// <param name="Slots">Total slots wanted (0 releases all).</param>
public sealed record LeaseWant(Guid TenantId, int Slots);

/// <summary>Granted slot totals.</summary>
/// <param name="Leases">One grant per requested tenant.</param>
public sealed record LeaseSyncResponse(IReadOnlyList<LeaseGrant> Leases);

/// <summary>Slots now held by the gateway for one tenant.</summary>
/// <param name="TenantId">Tenant.</param>
/// <param name="Slots">Slots held (may be below what was wanted, never above the tenant's free capacity).</param>
/// <param name="MaxConnections">The tenant's current MaxConnections.</param>
public sealed record LeaseGrant(Guid TenantId, int Slots, int MaxConnections);
