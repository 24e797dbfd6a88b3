namespace Platform.Benchmarks;

/// <summary>How the gateways of a build reach its silos, which decides the settings they start with and how the lease round trip is made.</summary>
internal enum ClusterFlavor
{
    /// <summary>The internal HTTP API (<c>/internal/v1/...</c>, bearer cluster secret): <c>Platform:SiloUrl</c>, <c>Platform:ClusterSecret</c>.</summary>
    Http,

    /// <summary>An Orleans client of the silos' gateway ports (<c>IGatewayLinkGrain</c>): <c>Platform:SiloEndpoints</c>, <c>Platform:SnapshotKey</c>.</summary>
    Orleans,
}
