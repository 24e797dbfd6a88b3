namespace Platform.Silo.Connections.Live;

/// <summary>
/// The part of one gateway's event batch that concerns one tenant (see <see cref="Contracts.Internal.ConnectionEventBatch"/>),
/// applied in this order: opened, counters, closed.
/// </summary>
/// <param name="GatewayId">The gateway that sent the batch; it owns every connection id in it.</param>
/// <param name="Opened">Connections admitted.</param>
/// <param name="Counters">Counter snapshots (absolute totals), at most one per connection.</param>
/// <param name="Closed">Connections closed with their final counters, at most one per connection.</param>
[GenerateSerializer, Immutable, Alias("platform.connections.events")]
internal sealed record TenantConnectionEvents(
    [property: Id(0)] string GatewayId,
    [property: Id(1)] IReadOnlyList<ConnectionOpenedEvent> Opened,
    [property: Id(2)] IReadOnlyList<ConnectionCountersEvent> Counters,
    [property: Id(3)] IReadOnlyList<ConnectionClosedEvent> Closed)
{
    /// <summary>Every connection id the events name, once.</summary>
    public IReadOnlyCollection<string> ConnectionIds() =>
        Opened.Select(o => o.Id).Concat(Counters.Select(c => c.Id)).Concat(Closed.Select(c => c.Counters.Id)).ToHashSet(StringComparer.Ordinal);
}
