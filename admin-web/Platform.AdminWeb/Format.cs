using System.Globalization;
using Platform.Contracts.Problems;

namespace Platform.AdminWeb;

/// <summary>How times and sizes read on every page.</summary>
public static class Format
{
    public static string Time(DateTimeOffset? value) =>
        value is { } v ? v.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture) : "—";

    public static string Age(TimeSpan age) => age.TotalSeconds switch
    {
        < 0 => "0 s",
        < 120 => $"{age.TotalSeconds:0} s",
        < 7200 => $"{age.TotalMinutes:0} min",
        < 172800 => $"{age.TotalHours:0} h",
        _ => $"{age.TotalDays:0} d",
    };

    public static string Bytes(long value) => value switch
    {
        < 1024 => $"{value} B",
        < 1024 * 1024 => $"{value / 1024.0:0.#} KiB",
        < 1024L * 1024 * 1024 => $"{value / (1024.0 * 1024):0.#} MiB",
        _ => $"{value / (1024.0 * 1024 * 1024):0.#} GiB",
    };

    /// <summary>A connection's metadata on one line, <c>key=value</c> pairs in key order; a dash when there is none.</summary>
    public static string Metadata(IReadOnlyDictionary<string, string>? metadata) =>
        metadata is { Count: > 0 }
            ? string.Join(", ", metadata.OrderBy(static e => e.Key, StringComparer.Ordinal).Select(static e => $"{e.Key}={e.Value}"))
            : "—";

    /// <summary>What a gateway refusal reason means, for people: the meaning <see cref="RefusalReasons"/> gives it.</summary>
    public static string RefusalReason(string reason) =>
        RefusalReasons.TryParse(reason, out var known) ? RefusalReasons.Meaning(known) : reason.Replace('_', ' ');
}
