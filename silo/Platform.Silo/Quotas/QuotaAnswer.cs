namespace Platform.Silo.Quotas;

/// <summary>The grain's answer to one gateway.</summary>
/// <param name="GatewayLive">False when the gateway is not registered or not live: nothing was granted.</param>
/// <param name="Slots">Slots the gateway holds from now on.</param>
/// <param name="MaxConnections">The tenant's MaxConnections (0 when the tenant does not exist).</param>
/// <param name="Reclaiming">The grant fell short while other gateways hold slots they do not use.</param>
[GenerateSerializer, Immutable, Alias("platform.quotas.answer")]
internal sealed record QuotaAnswer(
    [property: Id(0)] bool GatewayLive,
    [property: Id(1)] int Slots,
    [property: Id(2)] int MaxConnections,
    [property: Id(3)] bool Reclaiming);
