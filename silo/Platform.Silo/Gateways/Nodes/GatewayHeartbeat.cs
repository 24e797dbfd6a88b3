using Platform.Cluster;

namespace Platform.Silo.Gateways.Nodes;

/// <summary>A validated heartbeat (see <see cref="Contracts.Internal.HeartbeatRequest"/>).</summary>
/// <param name="ConfigRevision">The configuration revision the gateway runs.</param>
/// <param name="OpenConnections">Connections open on it.</param>
/// <param name="Refusals">Its refusal batch as the JSON it sent, or null; the grain reads it only when the batch is new.</param>
/// <param name="RefusalSequence">The batch's sequence number (0 without a batch).</param>
/// <param name="Commands">How to reach the gateway, renewed with every heartbeat.</param>
[GenerateSerializer, Immutable, Alias("platform.gateways.heartbeat")]
internal sealed record GatewayHeartbeat(
    [property: Id(0)] long ConfigRevision,
    [property: Id(1)] long OpenConnections,
    [property: Id(2)] byte[]? Refusals,
    [property: Id(3)] long RefusalSequence,
    [property: Id(4)] IGatewayObserver Commands);
