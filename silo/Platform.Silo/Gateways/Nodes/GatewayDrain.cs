namespace Platform.Silo.Gateways.Nodes;

/// <summary>An operator's drain: the deadline in seconds (0: none) and who asked, for the audit entry.</summary>
[GenerateSerializer, Immutable, Alias("platform.gateways.drain")]
internal sealed record GatewayDrain(
    [property: Id(0)] int DeadlineSeconds,
    [property: Id(1)] string Actor);
