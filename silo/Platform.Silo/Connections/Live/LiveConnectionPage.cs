namespace Platform.Silo.Connections.Live;

/// <summary>One page of open connections, oldest first, and how many match the filters in all.</summary>
[GenerateSerializer, Immutable, Alias("platform.connections.page")]
internal sealed record LiveConnectionPage(
    [property: Id(0)] IReadOnlyList<LiveConnection> Items,
    [property: Id(1)] long Total);
