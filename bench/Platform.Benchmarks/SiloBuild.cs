namespace Platform.Benchmarks;

/// <summary>
/// A build the scenarios run against: <c>previous</c> (the baseline) or <c>current</c>, with settings of the run
/// given to each of its silo processes as environment variables, and the gateway of the same commit (for the
/// scenarios with gateways) with the way it reaches the silos.
/// </summary>
internal sealed record SiloBuild(
    string Name, string SiloDll, IReadOnlyDictionary<string, string> Settings, string? GatewayDll, ClusterFlavor Flavor);
