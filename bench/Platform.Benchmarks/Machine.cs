using System.Globalization;
using System.Runtime.InteropServices;
using Npgsql;

namespace Platform.Benchmarks;

/// <summary>Prints what the figures depend on: date, machine, runtime, PostgreSQL and its durability settings.</summary>
internal static class Machine
{
    public static async Task PrintAsync(IReadOnlyList<SiloBuild> builds)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"date        {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"cpus        {Environment.ProcessorCount} x {CpuModel()}"));
        Console.WriteLine($"memory      {MemoryTotal()}");
        Console.WriteLine($"load        {LoadAverage()} (1, 5, 15 min averages at start: other work on the machine shares the CPUs)");
        Console.WriteLine($"runtime     {RuntimeInformation.FrameworkDescription} on {RuntimeInformation.OSDescription}");
        await using var database = await Platform.Testing.TestDatabase.CreateAsync();
        await using var connection = new NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit')
            """, connection);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        Console.WriteLine($"postgresql  {reader.GetString(0)} (fsync {reader.GetString(1)}, synchronous_commit {reader.GetString(2)}), 127.0.0.1");
        foreach (var build in builds)
        {
            var settings = build.Settings.Count == 0 ? "" : $", with {string.Join(' ', build.Settings.Select(s => $"{s.Key}={s.Value}"))}";
            Console.WriteLine($"silo        {build.Name,-8} {build.SiloDll} (own processes on loopback ports, clients over loopback TCP{settings})");
            var link = build.Flavor.ToString().ToLowerInvariant();
            Console.WriteLine(build.GatewayDll is null
                ? $"gateway     {build.Name,-8} none built; gateway link: {link}"
                : $"gateway     {build.Name,-8} {build.GatewayDll} (gateway link: {link})");
        }
    }

    private static string CpuModel() =>
        ProcLine("/proc/cpuinfo", "model name") is { } line ? line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim() : "unknown CPU";

    private static string MemoryTotal() =>
        ProcLine("/proc/meminfo", "MemTotal") is { } line
            && long.TryParse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], NumberStyles.None, CultureInfo.InvariantCulture, out var kib)
            ? string.Create(CultureInfo.InvariantCulture, $"{kib / 1024.0 / 1024.0:F1} GiB")
            : "unknown";

    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

    private static string? ProcLine(string path, string prefix) =>
        File.Exists(path) ? File.ReadLines(path).FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal)) : null;
}
