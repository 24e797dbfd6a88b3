namespace Platform.Silo.Gateways.Nodes;

/// <summary>The outcome of a drain.</summary>
/// <param name="Status">The node's status after the call; null when no such node is registered.</param>
/// <param name="Drained">The node was live and is now draining (stored and audited).</param>
/// <param name="Delivered">The gateway took the drain command; when not, it learns of the drain from its next heartbeat.</param>
[GenerateSerializer, Immutable, Alias("platform.gateways.drain-answer")]
internal sealed record GatewayDrainAnswer(
    [property: Id(0)] string? Status,
    [property: Id(1)] bool Drained,
    [property: Id(2)] bool Delivered);
