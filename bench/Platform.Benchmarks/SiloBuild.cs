namespace Platform.Benchmarks;

/// <summary>
/// A silo build the scenarios run against: <c>previous</c> (the baseline) or <c>current</c>, with settings of the run
/// given to each of its processes as environment variables.
/// </summary>
internal sealed record SiloBuild(string Name, string SiloDll, IReadOnlyDictionary<string, string> Settings);
