namespace Platform.Silo.Connections.Live;

/// <summary>Absolute counters of a connection (see <see cref="Contracts.Internal.ConnectionCounters"/>).</summary>
[GenerateSerializer, Immutable, Alias("platform.connections.counters")]
internal sealed record ConnectionCountersEvent(
    [property: Id(0)] string Id,
    [property: Id(1)] long BytesIn,
    [property: Id(2)] long BytesOut,
    [property: Id(3)] long MessagesIn,
    [property: Id(4)] long MessagesOut,
    [property: Id(5)] DateTime LastActivityAt,
    [property: Id(6)] string? RemoteAddress = null,
    [property: Id(7)] int? RemotePort = null);
