using System.Diagnostics;
using System.Globalization;

namespace Platform.Gateway.Dtls.Bench;

/// <summary>
/// The gateway's native heap as glibc sees it: gdb attaches to the gateway for a moment and calls malloc_stats(),
/// which prints every arena's and the total "system bytes" (obtained from the kernel) and "in use bytes" (handed out
/// by malloc) to the gateway's standard error; the totals are read back from the gateway's log file.
/// </summary>
internal static class NativeHeap
{
    public sealed record Totals(long System, long InUse, int Arenas);

    /// <summary>The totals now, or null without a log file, without gdb, or when the call failed (reported).</summary>
    public static async Task<Totals?> ReadAsync(int pid, string? logPath)
    {
        if (logPath is null || !File.Exists(logPath))
        {
            return null;
        }

        var lengthBefore = new FileInfo(logPath).Length;
        if (!await CallAsync(pid, "(void) malloc_stats()", "native heap"))
        {
            return null;
        }

        // The process writes the report to its stderr; the log file may take a moment to show all of it.
        for (var attempt = 0; attempt < 50; attempt++)
        {
            if (Parse(ReadFrom(logPath, lengthBefore)) is { } totals)
            {
                return totals;
            }

            await Task.Delay(100);
        }

        Console.Error.WriteLine("native heap: no malloc_stats report appeared in " + logPath);
        return null;
    }

    /// <summary>
    /// Calls glibc's malloc_trim(0) in the gateway through gdb (with gdb installed): what the arenas hold free goes
    /// back to the system, so the RSS it frees is native heap that was free but resident. False when gdb failed.
    /// </summary>
    public static Task<bool> TrimAsync(int pid) => CallAsync(pid, "(int) malloc_trim(0)", "malloc_trim");

    /// <summary>
    /// Calls a function in the gateway through gdb (attached for the call only); false, with the reason on standard
    /// error under <paramref name="what"/>, when gdb is missing, fails or takes more than 120 s.
    /// </summary>
    private static async Task<bool> CallAsync(int pid, string call, string what)
    {
        var start = new ProcessStartInfo("gdb")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "-nx", "-batch", "-p", pid.ToString(CultureInfo.InvariantCulture), "-ex", "call " + call })
        {
            start.ArgumentList.Add(argument);
        }

        Process? started;
        try
        {
            started = Process.Start(start);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            Console.Error.WriteLine($"{what}: gdb did not start ({ex.Message})");
            return false;
        }

        if (started is null)
        {
            Console.Error.WriteLine($"{what}: gdb did not start");
            return false;
        }

        using var gdb = started;
        var output = gdb.StandardOutput.ReadToEndAsync();
        var errors = gdb.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try
        {
            await gdb.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            gdb.Kill();
            Console.Error.WriteLine($"{what}: gdb did not finish within 120 s");
            return false;
        }

        await output;
        var failure = await errors;
        if (gdb.ExitCode != 0)
        {
            Console.Error.WriteLine($"{what}: gdb failed ({gdb.ExitCode}): {failure}");
            return false;
        }

        return true;
    }

    private static string ReadFrom(string path, long offset)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        stream.Seek(offset, SeekOrigin.Begin);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>"Arena N:" blocks, then "Total (incl. mmap):" with "system bytes = X" and "in use bytes = Y".</summary>
    internal static Totals? Parse(string report)
    {
        var lines = report.Split('\n');
        var total = Array.FindLastIndex(lines, l => l.StartsWith("Total (incl. mmap):", StringComparison.Ordinal));
        if (total < 0 || total + 2 >= lines.Length)
        {
            return null;
        }

        var first = Array.FindLastIndex(lines, total, l => l.StartsWith("Arena 0:", StringComparison.Ordinal));
        var arenas = first < 0 ? 0 : lines[first..total].Count(l => l.StartsWith("Arena ", StringComparison.Ordinal));
        static long Value(string line) => long.Parse(line[(line.IndexOf('=', StringComparison.Ordinal) + 1)..].Trim(), CultureInfo.InvariantCulture);
        var system = lines[total + 1];
        var inUse = lines[total + 2];
        if (!system.StartsWith("system bytes", StringComparison.Ordinal) || !inUse.StartsWith("in use bytes", StringComparison.Ordinal))
        {
            return null;
        }

        return new Totals(Value(system), Value(inUse), arenas);
    }
}
