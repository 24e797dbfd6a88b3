using System.Globalization;
using System.Runtime.InteropServices;

namespace Platform.Gateway.Dtls.Bench;

/// <summary>CPU time and resident memory of processes from <c>/proc</c>; a target may be several pids joined by '+'.</summary>
internal static partial class ProcessStats
{
    private const int ScClkTck = 2;

    private static readonly double TicksPerSecond = sysconf(ScClkTck) is > 0 and var ticks ? ticks : 100;

    /// <summary>utime + stime of every process in <paramref name="pids"/>, in seconds.</summary>
    public static double CpuSeconds(IReadOnlyList<int> pids)
    {
        double total = 0;
        foreach (var pid in pids)
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name may hold spaces; the fields after its closing parenthesis are fixed.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // Fields 14 and 15 of proc(5) (utime, stime) are the 12th and 13th after the name.
            total += (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
        }

        return total;
    }

    /// <summary>utime + stime of each thread of every process in <paramref name="pids"/>, in seconds, by "pid/tid name".</summary>
    public static Dictionary<string, double> ThreadCpuSeconds(IReadOnlyList<int> pids)
    {
        var threads = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var pid in pids)
        {
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                string stat;
                try
                {
                    stat = File.ReadAllText(Path.Combine(task, "stat"));
                }
                catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or IOException)
                {
                    // The thread ended between the listing and the read: its time is in neither snapshot's row.
                    continue;
                }

                var open = stat.IndexOf('(', StringComparison.Ordinal);
                var close = stat.LastIndexOf(')');
                var fields = stat[(close + 2)..].Split(' ');
                var seconds = (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
                threads[$"{pid}/{Path.GetFileName(task)} {stat[(open + 1)..close]}"] = seconds;
            }
        }

        return threads;
    }

    /// <summary>The threads that used the most CPU between two <see cref="ThreadCpuSeconds"/> snapshots, as "name cores" over <paramref name="seconds"/>.</summary>
    public static string BusiestThreads(Dictionary<string, double> before, Dictionary<string, double> after, double seconds, int count) =>
        string.Join(", ", after
            .Select(t => (Name: t.Key[(t.Key.IndexOf(' ', StringComparison.Ordinal) + 1)..], Used: t.Value - before.GetValueOrDefault(t.Key)))
            .OrderByDescending(t => t.Used)
            .Take(count)
            .Select(t => $"{t.Name} {t.Used / seconds:F2}"));

    /// <summary>VmRSS of every process in <paramref name="pids"/>, in bytes.</summary>
    public static long RssBytes(IReadOnlyList<int> pids)
    {
        long total = 0;
        foreach (var pid in pids)
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    total += long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
                }
            }
        }

        return total;
    }

    public static double LoadAverage1() =>
        double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);

    public static string LoadAverage() => string.Join(" / ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    [LibraryImport("libc", SetLastError = false)]
    private static partial long sysconf(int name);
}
