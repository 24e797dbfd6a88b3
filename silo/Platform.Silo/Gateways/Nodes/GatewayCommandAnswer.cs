namespace Platform.Silo.Gateways.Nodes;

/// <summary>What the gateway answered to a command.</summary>
/// <param name="Status">The outcome.</param>
/// <param name="Body">The answer's JSON body when accepted; the field errors as a JSON array when invalid; otherwise null.</param>
[GenerateSerializer, Immutable, Alias("platform.gateways.command-answer")]
internal sealed record GatewayCommandAnswer(
    [property: Id(0)] GatewayCallStatus Status,
    [property: Id(1)] byte[]? Body = null);
