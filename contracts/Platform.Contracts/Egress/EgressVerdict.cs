namespace Platform.Contracts.Egress;

/// <summary>The egress policy's decision on one address.</summary>
/// <param name="Allowed">Whether a tenant's traffic may go there.</param>
/// <param name="Class">The address class (for an IPv6 form carrying IPv4, the class of the IPv4 address).</param>
/// <param name="Reason">Why.</param>
public readonly record struct EgressVerdict(bool Allowed, EgressAddressClass Class, EgressVerdictReason Reason);
