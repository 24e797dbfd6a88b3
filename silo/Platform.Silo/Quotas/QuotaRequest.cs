namespace Platform.Silo.Quotas;

/// <summary>One gateway's lease want for the grain's tenant (see <see cref="Contracts.Internal.LeaseWant"/>).</summary>
/// <param name="GatewayId">The gateway asking.</param>
/// <param name="Slots">Total slots it wants.</param>
/// <param name="InUse">Connections of the tenant open on it.</param>
/// <param name="Held">Slots it held when it asked; null when it does not say (it then cannot be reclaimed from).</param>
/// <param name="Waiting">Connections that found no free slot on it since its previous sync.</param>
[GenerateSerializer, Immutable, Alias("platform.quotas.request")]
internal sealed record QuotaRequest(
    [property: Id(0)] string GatewayId,
    [property: Id(1)] int Slots,
    [property: Id(2)] int InUse,
    [property: Id(3)] int? Held,
    [property: Id(4)] int Waiting);
