using System.Diagnostics;
using System.Globalization;

namespace Platform.Benchmarks;

/// <summary>Collects per-operation latencies of one measurement and summarises them.</summary>
internal sealed class LatencyRecorder(string name)
{
    private readonly Lock _lock = new();
    private readonly List<double> _milliseconds = [];
    private long _started = Stopwatch.GetTimestamp();
    private long _stopped;

    public string Name { get; } = name;

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _milliseconds.Count;
            }
        }
    }

    /// <summary>Restarts the wall clock the throughput is computed over.</summary>
    public void Start() => _started = Stopwatch.GetTimestamp();

    public void Stop() => _stopped = Stopwatch.GetTimestamp();

    public void Add(TimeSpan latency)
    {
        lock (_lock)
        {
            _milliseconds.Add(latency.TotalMilliseconds);
        }
    }

    public string Summary(string unit = "req/s")
    {
        double[] sorted;
        lock (_lock)
        {
            sorted = [.. _milliseconds];
        }

        Array.Sort(sorted);
        var wall = Stopwatch.GetElapsedTime(_started, _stopped == 0 ? Stopwatch.GetTimestamp() : _stopped);
        if (sorted.Length == 0)
        {
            return $"{Name}: no samples";
        }

        return string.Create(
            CultureInfo.InvariantCulture,
            $"{Name}: n={sorted.Length} in {wall.TotalSeconds:F2} s, {sorted.Length / wall.TotalSeconds:F1} {unit}, " +
            $"p50 {Percentile(sorted, 0.50):F2} ms, p99 {Percentile(sorted, 0.99):F2} ms, max {sorted[^1]:F2} ms");
    }

    // Nearest-rank percentile over sorted samples.
    private static double Percentile(double[] sorted, double p) =>
        sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}
