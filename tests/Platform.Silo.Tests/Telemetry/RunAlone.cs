namespace Platform.Silo.Tests.Telemetry;

/// <summary>
/// Metrics tests run alone: OpenTelemetry listens to meters by name process-wide, so another test's gateway or silo in
/// this process would add its measurements to the scrape.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunAlone
{
    public const string Name = "metrics";
}
