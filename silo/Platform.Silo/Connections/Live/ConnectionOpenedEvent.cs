namespace Platform.Silo.Connections.Live;

/// <summary>A connection admitted (see <see cref="Contracts.Internal.ConnectionOpened"/>), its facts as stored.</summary>
[GenerateSerializer, Immutable, Alias("platform.connections.opened")]
internal sealed record ConnectionOpenedEvent(
    [property: Id(0)] string Id,
    [property: Id(1)] string Protocol,
    [property: Id(2)] string RemoteAddress,
    [property: Id(3)] int RemotePort,
    [property: Id(4)] int LocalPort,
    [property: Id(5)] DateTime OpenedAt,
    [property: Id(6)] string? TlsJson,
    [property: Id(7)] string? WebSocketJson,
    [property: Id(8)] string? MetadataJson = null,
    [property: Id(9)] string? ForwardTarget = null);
