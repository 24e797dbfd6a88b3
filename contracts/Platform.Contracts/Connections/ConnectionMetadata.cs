namespace Platform.Contracts.Connections;

/// <summary>
/// The rules of a connection's metadata: the key/value pairs a tenant's webhook attaches in its answer to the
/// <c>connect</c> event (docs/webhook-delivery.md), which every later message event of the connection and the connection
/// directory carry. The gateway refuses an answer that breaks them; the silo checks them again before it stores any.
/// </summary>
public static class ConnectionMetadata
{
    /// <summary>Most entries.</summary>
    public const int MaxEntries = 16;

    /// <summary>Longest key, in characters (ASCII letters, digits, <c>.</c>, <c>_</c> and <c>-</c>).</summary>
    public const int MaxKeyLength = 64;

    /// <summary>Longest value, in characters (none of them a control character).</summary>
    public const int MaxValueLength = 256;

    /// <summary>Whether <paramref name="key"/> is 1..<see cref="MaxKeyLength"/> characters of <c>A-Za-z0-9._-</c>.</summary>
    public static bool IsValidKey(string? key) =>
        key is { Length: > 0 and <= MaxKeyLength } && key.All(static c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.');

    /// <summary>
    /// Whether <paramref name="value"/> is at most <see cref="MaxValueLength"/> characters without control characters
    /// (PostgreSQL's <c>jsonb</c> cannot hold U+0000, and the portal shows values as text).
    /// </summary>
    public static bool IsValidValue(string? value) => value is { Length: <= MaxValueLength } && !value.Any(char.IsControl);

    /// <summary>Whether every rule holds: at most <see cref="MaxEntries"/> entries, each key and value valid.</summary>
    public static bool IsValid(IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        return metadata.Count <= MaxEntries && metadata.All(static e => IsValidKey(e.Key) && IsValidValue(e.Value));
    }
}
