namespace Platform.Silo.Gateways.Nodes;

/// <summary>What a live node hears back: its status and drain deadline.</summary>
[GenerateSerializer, Immutable, Alias("platform.gateways.heartbeat-answer")]
internal sealed record GatewayHeartbeatAnswer(
    [property: Id(0)] string Status,
    [property: Id(1)] DateTimeOffset? DrainDeadline);
