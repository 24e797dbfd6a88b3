using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace Platform.Gateway.Bench;

/// <summary>Round-robin client source addresses (127.0.0.2 and up), to get past one address's ephemeral ports.</summary>
internal sealed class Sources(int count)
{
    private readonly IPAddress[] _addresses = Enumerable.Range(2, count).Select(i => new IPAddress([127, 0, 0, (byte)i])).ToArray();
    private int _next;

    public IPAddress Next() => _addresses[(int)((uint)Interlocked.Increment(ref _next) % _addresses.Length)];
}

/// <summary>Latencies of one measured phase; nearest-rank percentiles.</summary>
internal sealed class Latencies
{
    private readonly List<double> _values = [];
    private readonly Lock _lock = new();

    public void Add(TimeSpan elapsed)
    {
        lock (_lock)
        {
            _values.Add(elapsed.TotalMilliseconds);
        }
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _values.Count;
            }
        }
    }

    public double Percentile(double p)
    {
        lock (_lock)
        {
            if (_values.Count == 0)
            {
                return double.NaN;
            }

            _values.Sort();
            return _values[Math.Clamp((int)Math.Ceiling(p / 100 * _values.Count) - 1, 0, _values.Count - 1)];
        }
    }
}

/// <summary>Failures of one phase: counted, the first kept for the report.</summary>
internal sealed class Failures
{
    private int _count;
    private string? _first;

    public int Count => Volatile.Read(ref _count);

    public string? First => Volatile.Read(ref _first);

    public void Add(Exception exception)
    {
        Interlocked.Increment(ref _count);
        Interlocked.CompareExchange(ref _first, $"{exception.GetType().Name}: {exception.Message}", null);
    }
}

/// <summary>Resident memory of a process, from /proc.</summary>
internal static class ProcessMemory
{
    public static long RssKiB(IEnumerable<int> pids) => pids.Sum(RssKiB);

    public static TimeSpan CpuTime(IEnumerable<int> pids) => pids.Aggregate(TimeSpan.Zero, (sum, pid) => sum + CpuTime(pid));

    private static long RssKiB(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"no VmRSS for process {pid}");
    }

    private static TimeSpan CpuTime(int pid)
    {
        using var process = Process.GetProcessById(pid);
        return process.TotalProcessorTime;
    }
}
