namespace Platform.Silo.Gateways.Nodes;

/// <summary>A validated registration (see <see cref="Contracts.Internal.RegisterGatewayRequest"/>).</summary>
[GenerateSerializer, Immutable, Alias("platform.gateways.registration")]
internal sealed record GatewayRegistration(
    [property: Id(0)] string Version,
    [property: Id(1)] string InternalUrl,
    [property: Id(2)] string[] Listeners);
