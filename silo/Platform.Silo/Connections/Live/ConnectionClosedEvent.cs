namespace Platform.Silo.Connections.Live;

/// <summary>A connection closed, with its final counters (see <see cref="Contracts.Internal.ConnectionClosed"/>).</summary>
[GenerateSerializer, Immutable, Alias("platform.connections.closed")]
internal sealed record ConnectionClosedEvent(
    [property: Id(0)] ConnectionCountersEvent Counters,
    [property: Id(1)] DateTime ClosedAt,
    [property: Id(2)] int? CloseCode,
    [property: Id(3)] string? CloseReason);
