namespace Platform.Gateway.Tests.Telemetry;

/// <summary>
/// Tests that run alone. Metrics tests: OpenTelemetry listens to meters by name process-wide, so another test's gateway
/// or silo in this process would add its measurements to the scrape. Tests of the process's GC heap: another test's
/// allocations and collections would move its figures.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunAlone
{
    public const string Name = "metrics";
}
