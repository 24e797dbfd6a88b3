using System.Diagnostics;
using System.Globalization;

namespace Platform.Gateway.Dtls.Bench;

/// <summary>The garbage collector's own view of the gateway at one moment (dotnet-counters, System.Runtime).</summary>
/// <param name="Committed">Memory the GC had committed at its last collection.</param>
/// <param name="Gen0">Generation sizes after the last collection, each.</param>
/// <param name="Fragmentation">Free space inside the generations after the last collection, all of them.</param>
/// <param name="Collections">Collections of generations 0, 1 and 2 since the watch started.</param>
/// <param name="Allocated">Bytes allocated since the watch started.</param>
internal sealed record GcView(long Committed, long Gen0, long Gen1, long Gen2, long Loh, long Poh, long Fragmentation, (long Gen0, long Gen1, long Gen2) Collections, long Allocated);

/// <summary>One sample of the gateway while its idle sessions are held.</summary>
internal sealed record SettleSample(double Seconds, long Rss, long RssAnon, long RssFile, GcView? Gc);

/// <summary>
/// Holds the idle sessions for the settle time and samples the gateway every few seconds meanwhile: RSS split into
/// anonymous and file-backed pages (<c>/proc/PID/status</c>) and, with dotnet-counters, the GC's committed memory,
/// generation sizes, fragmentation, collections and allocations. What grows while nothing is sent shows here.
/// </summary>
internal static class SettleWatch
{
    public static async Task<List<SettleSample>> HoldAsync(int pid, double seconds, double every, string? countersTool)
    {
        var samples = new List<(double Seconds, DateTime At, long Rss, long Anon, long File)>();
        var csv = countersTool is null ? null : Path.Combine(Path.GetTempPath(), $"dtlsbench-counters-{Environment.ProcessId}-{pid}.csv");
        Process? counters = null;
        if (csv is not null)
        {
            var start = new ProcessStartInfo(countersTool!)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in new[] { "collect", "-p", pid.ToString(CultureInfo.InvariantCulture), "--counters", "System.Runtime", "--refresh-interval", every.ToString(CultureInfo.InvariantCulture), "--format", "csv", "-o", csv })
            {
                start.ArgumentList.Add(argument);
            }

            counters = Process.Start(start) ?? throw new InvalidOperationException("dotnet-counters did not start");
            // Its console output is not needed; read it so that it never blocks on a full pipe.
            _ = counters.StandardOutput.ReadToEndAsync();
            _ = counters.StandardError.ReadToEndAsync();
        }

        try
        {
            var clock = Stopwatch.StartNew();
            for (var next = 0.0; ; next += every)
            {
                var wait = next - clock.Elapsed.TotalSeconds;
                if (wait > 0)
                {
                    await Task.Delay(TimeSpan.FromSeconds(wait));
                }

                var (rss, anon, file) = Resident(pid);
                samples.Add((clock.Elapsed.TotalSeconds, DateTime.Now, rss, anon, file));
                if (next + every > seconds)
                {
                    break;
                }
            }

            var rest = seconds - clock.Elapsed.TotalSeconds;
            if (rest > 0)
            {
                await Task.Delay(TimeSpan.FromSeconds(rest));
            }
        }
        finally
        {
            if (counters is not null)
            {
                using (counters)
                {
                    counters.Kill();
                    await counters.WaitForExitAsync();
                }
            }
        }

        var views = csv is not null && File.Exists(csv) ? ReadCounters(csv) : [];
        if (csv is not null)
        {
            File.Delete(csv);
        }

        // Each sample gets the counters' last line at or before it (their clock ticks on its own).
        return samples.Select(s => new SettleSample(s.Seconds, s.Rss, s.Anon, s.File, views.LastOrDefault(v => v.At <= s.At).View ?? views.FirstOrDefault().View)).ToList();
    }

    /// <summary>VmRSS, RssAnon and RssFile of <paramref name="pid"/>, in bytes.</summary>
    private static (long Rss, long Anon, long File) Resident(int pid)
    {
        long rss = 0, anon = 0, file = 0;
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                continue;
            }

            ref var target = ref rss;
            switch (line[..colon])
            {
                case "VmRSS":
                    break;
                case "RssAnon":
                    target = ref anon;
                    break;
                case "RssFile":
                    target = ref file;
                    break;
                default:
                    continue;
            }

            target = long.Parse(line[(colon + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }

        return (rss, anon, file);
    }

    /// <summary>dotnet-counters' CSV (Timestamp,Provider,Counter Name,Counter Type,Mean/Increment), one view per timestamp.</summary>
    private static List<(DateTime At, GcView View)> ReadCounters(string csv)
    {
        var views = new List<(DateTime At, GcView View)>();
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        DateTime? at = null;
        long gen0 = 0, gen1 = 0, gen2 = 0, allocated = 0;
        void Flush()
        {
            if (at is not { } when)
            {
                return;
            }

            gen0 += (long)Value("dotnet.gc.collections", "gen0");
            gen1 += (long)Value("dotnet.gc.collections", "gen1");
            gen2 += (long)Value("dotnet.gc.collections", "gen2");
            allocated += (long)Value("dotnet.gc.heap.total_allocated", null);
            const string size = "dotnet.gc.last_collection.heap.size";
            const string free = "dotnet.gc.last_collection.heap.fragmentation.size";
            views.Add((when, new GcView(
                (long)Value("dotnet.gc.last_collection.memory.committed_size", null),
                (long)Value(size, "gen0"), (long)Value(size, "gen1"), (long)Value(size, "gen2"), (long)Value(size, "loh"), (long)Value(size, "poh"),
                (long)(Value(free, "gen0") + Value(free, "gen1") + Value(free, "gen2") + Value(free, "loh") + Value(free, "poh")),
                (gen0, gen1, gen2), allocated)));
            values.Clear();
        }

        double Value(string counter, string? generation)
        {
            foreach (var (name, value) in values)
            {
                if (name.StartsWith(counter + " ", StringComparison.Ordinal) && (generation is null || name.EndsWith($"[gc.heap.generation={generation}]", StringComparison.Ordinal)))
                {
                    return value;
                }
            }

            return 0;
        }

        foreach (var line in File.ReadLines(csv).Skip(1))
        {
            var fields = line.Split(',');
            if (fields.Length < 5 || !DateTime.TryParse(fields[0], CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal, out var stamp)
                || !double.TryParse(fields[^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
            {
                continue;
            }

            if (at != stamp)
            {
                Flush();
                at = stamp;
            }

            values[fields[2]] = number;
        }

        Flush();
        return views;
    }
}
