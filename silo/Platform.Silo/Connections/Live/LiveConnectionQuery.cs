namespace Platform.Silo.Connections.Live;

/// <summary>Filters and page of a listing of open connections (null filters match everything).</summary>
[GenerateSerializer, Immutable, Alias("platform.connections.query")]
internal sealed record LiveConnectionQuery(
    [property: Id(0)] string? Protocol,
    [property: Id(1)] string? RemoteAddress,
    [property: Id(2)] string? Gateway,
    [property: Id(3)] int Offset,
    [property: Id(4)] int Limit);
