namespace Platform.Silo.Gateways.Nodes;

/// <summary>A command for a gateway: the path on its internal API and the JSON body.</summary>
[GenerateSerializer, Immutable, Alias("platform.gateways.command")]
internal sealed record GatewayCommand(
    [property: Id(0)] string Path,
    [property: Id(1)] byte[] Body);
