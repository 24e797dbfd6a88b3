using Platform.Cluster;

namespace Platform.Silo.Gateways.Nodes;

/// <summary>A validated registration (see <see cref="Contracts.Internal.RegisterGatewayRequest"/>).</summary>
/// <param name="Version">The gateway's software version.</param>
/// <param name="Listeners">The listeners it serves.</param>
/// <param name="Commands">How to reach it: the observer its cluster client created.</param>
[GenerateSerializer, Immutable, Alias("platform.gateways.registration")]
internal sealed record GatewayRegistration(
    [property: Id(0)] string Version,
    [property: Id(1)] string[] Listeners,
    [property: Id(2)] IGatewayObserver Commands);
