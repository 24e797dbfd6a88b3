namespace Platform.Silo.Connections.Live;

/// <summary>An open connection as the tenant's connections grain holds it (one row of <c>connections</c> with <c>closed_at</c> null).</summary>
/// <remarks>TLS and WebSocket facts and the metadata stay the JSON stored in the row; the REST edge reads them into the contract types.</remarks>
[GenerateSerializer, Immutable, Alias("platform.connections.live")]
internal sealed record LiveConnection(
    [property: Id(0)] string Id,
    [property: Id(1)] string GatewayId,
    [property: Id(2)] string Protocol,
    [property: Id(3)] string RemoteAddress,
    [property: Id(4)] int RemotePort,
    [property: Id(5)] int LocalPort,
    [property: Id(6)] DateTime OpenedAt,
    [property: Id(7)] long BytesIn,
    [property: Id(8)] long BytesOut,
    [property: Id(9)] long MessagesIn,
    [property: Id(10)] long MessagesOut,
    [property: Id(11)] DateTime LastActivityAt,
    [property: Id(12)] string? TlsJson,
    [property: Id(13)] string? WebSocketJson,
    [property: Id(14)] string? MetadataJson = null,
    [property: Id(15)] string? ForwardTarget = null);
