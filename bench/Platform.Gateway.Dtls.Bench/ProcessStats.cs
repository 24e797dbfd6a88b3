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
