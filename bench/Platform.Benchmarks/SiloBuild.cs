namespace Platform.Benchmarks;

/// <summary>
/// A build the scenarios run against: <c>previous</c> (the baseline) or <c>current</c>, with settings of the run
/// given to each of its silo processes as environment variables, and the gateway of the same commit (for the
/// scenarios with gateways) with the way it reaches the silos.
/// </summary>
internal sealed record SiloBuild(
    string Name, string SiloDll, IReadOnlyDictionary<string, string> Settings, string? GatewayDll, ClusterFlavor Flavor)
{
    /// <summary>The setting of the shared secret of the internal HTTP API, which builds of the HTTP link require.</summary>
    public const string ClusterSecretSetting = "Platform:ClusterSecret";

    /// <summary>The cluster secret a build of the HTTP link runs with (see <see cref="ClusterSecretSetting"/>).</summary>
    public string ClusterSecret => Settings.TryGetValue(ClusterSecretSetting, out var secret)
        ? secret
        : throw new InvalidOperationException($"The {Name} build reaches its silos over Orleans; it has no cluster secret.");
}
