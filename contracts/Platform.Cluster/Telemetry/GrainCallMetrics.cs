using System.Diagnostics.Metrics;
using Orleans;

namespace Platform.Cluster.Telemetry;

/// <summary>
/// Grain call latency (meter <see cref="MeterName"/>, histogram <c>platform.grain.call.duration</c> in seconds) by
/// direction, grain interface, method and outcome. One class for both ends: a silo registers it as an incoming filter
/// (<c>siloBuilder.AddIncomingGrainCallFilter&lt;GrainCallMetrics&gt;()</c>), a cluster client as an outgoing one
/// (<c>clientBuilder.AddOutgoingGrainCallFilter&lt;GrainCallMetrics&gt;()</c>); either exports it with
/// <c>AddMeter(GrainCallMetrics.MeterName)</c>. The label values are the names of the grain interfaces and methods the
/// process was built with, a set fixed at build time.
/// </summary>
public sealed class GrainCallMetrics : IIncomingGrainCallFilter, IOutgoingGrainCallFilter
{
    /// <summary>Name of the meter the histogram belongs to.</summary>
    public const string MeterName = "Platform.Cluster";

    // From an in-memory call on one silo to Orleans' default response timeout (30 s).
    private static readonly double[] Buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    private readonly Histogram<double> _duration;
    private readonly TimeProvider _time;

    /// <summary>Creates the filter over the process's meters and clock.</summary>
    public GrainCallMetrics(IMeterFactory meterFactory, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _duration = meterFactory.Create(MeterName).CreateHistogram(
            "platform.grain.call.duration",
            "s",
            "Grain calls by direction (incoming: served by this silo; outgoing: made by this client), interface, method and outcome.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = Buckets });
    }

    /// <summary>Times a call this silo serves.</summary>
    public Task Invoke(IIncomingGrainCallContext context) => TimeAsync(context, "incoming");

    /// <summary>Times a call this process makes.</summary>
    public Task Invoke(IOutgoingGrainCallContext context) => TimeAsync(context, "outgoing");

    private async Task TimeAsync(IGrainCallContext context, string direction)
    {
        ArgumentNullException.ThrowIfNull(context);
        var started = _time.GetTimestamp();
        var outcome = "error";
        try
        {
            await context.Invoke();
            if (context.Response?.Exception is null)
            {
                outcome = "ok";
            }
        }
        finally
        {
            _duration.Record(
                _time.GetElapsedTime(started).TotalSeconds,
                new KeyValuePair<string, object?>("direction", direction),
                new KeyValuePair<string, object?>("interface", context.InterfaceName),
                new KeyValuePair<string, object?>("method", context.MethodName),
                new KeyValuePair<string, object?>("outcome", outcome));
        }
    }
}
