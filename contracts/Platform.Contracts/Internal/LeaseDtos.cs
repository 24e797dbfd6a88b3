using System.Text.Json.Serialization;

namespace Platform.Contracts.Internal;

/// <summary>
/// A gateway states, per tenant, how many MaxConnections slots it wants to hold in total. The silo
/// grants up to what the tenant's other live leases leave free; a lower number gives slots back.
/// </summary>
/// <param name="Leases">Desired totals per tenant.</param>
public sealed record LeaseSyncRequest(IReadOnlyList<LeaseWant> Leases);

/// <summary>Desired slot total for one tenant, with what the gateway holds and uses of it.</summary>
/// <param name="TenantId">Tenant.</param>
/// <param name="Slots">Total slots wanted (0 releases all).</param>
/// <param name="InUse">Connections of the tenant open on the gateway when it sent this want (0 from gateways that do not say).</param>
/// <param name="Held">
/// Slots the gateway held when it sent this want; it holds no more until the answer arrives. Null from gateways
/// that do not say: the silo then counts what it answers, as before this field existed, and never reclaims unused
/// slots from that gateway.
/// </param>
/// <param name="Waiting">
/// Connections that found no free slot on the gateway since its previous sync (waiting for this answer, or
/// deferred): only these make the silo reclaim unused slots from other gateways.
/// </param>
public sealed record LeaseWant(Guid TenantId, int Slots, int InUse = 0, int? Held = null, int Waiting = 0);

/// <summary>Granted slot totals.</summary>
/// <param name="Leases">One grant per requested tenant.</param>
public sealed record LeaseSyncResponse(IReadOnlyList<LeaseGrant> Leases);

/// <summary>Slots now held by the gateway for one tenant.</summary>
/// <param name="TenantId">Tenant.</param>
/// <param name="Slots">
/// Slots held (may be below what was wanted, never above the tenant's free capacity). It may be below what the
/// gateway held before: the silo reclaims unused slots for another gateway, and counts them free only once the
/// gateway has reported holding no more than this.
/// </param>
/// <param name="MaxConnections">The tenant's current MaxConnections.</param>
/// <param name="Reclaiming">
/// True when the grant fell short but other gateways hold slots they do not use: they are being reclaimed for this
/// gateway (or will be, once a connection waits here), so the tenant is not at its MaxConnections and the gateway asks
/// again shortly. Only sent to gateways that report <see cref="LeaseWant.Held"/>; left out of the JSON when false.
/// </param>
public sealed record LeaseGrant(
    Guid TenantId,
    int Slots,
    int MaxConnections,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool Reclaiming = false);
