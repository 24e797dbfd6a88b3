using System.Buffers;
using System.Text;
using System.Text.Json;
using Platform.Contracts.Connections;

namespace Platform.Silo.Connections;

/// <summary>
/// A connection's metadata and forward target as the <c>connections</c> row stores them: checked again against the
/// documented rules before they are stored (a gateway is not trusted to have kept them), and the metadata as a JSON object
/// whose keys are kept as given.
/// </summary>
internal static class StoredMetadata
{
    /// <summary>Longest forward target: a 253-character host name, a colon and a port.</summary>
    public const int MaxForwardTargetLength = 262;

    private static readonly MetadataJsonConverter Converter = new();
    private static readonly SearchValues<char> NotInHost = SearchValues.Create(" \t\r\n\0/@");

    /// <summary>The JSON to store; null when there is none (null or empty), or when it breaks a rule (<paramref name="valid"/> false).</summary>
    public static string? Json(IReadOnlyDictionary<string, string>? metadata, out bool valid)
    {
        valid = metadata is null || ConnectionMetadata.IsValid(metadata);
        if (!valid || metadata is not { Count: > 0 })
        {
            return null;
        }

        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            Converter.Write(writer, metadata, JsonSerializerOptions.Default);
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>The metadata of a stored row; null when it has none.</summary>
    public static IReadOnlyDictionary<string, string>? Read(string? json)
    {
        if (json is null)
        {
            return null;
        }

        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json));
        reader.Read();
        return Converter.Read(ref reader, typeof(IReadOnlyDictionary<string, string>), JsonSerializerOptions.Default);
    }

    /// <summary>Whether a forward target has the shape <c>host:port</c> within <see cref="MaxForwardTargetLength"/> characters.</summary>
    public static bool IsForwardTarget(string target)
    {
        ArgumentNullException.ThrowIfNull(target);
        var colon = target.LastIndexOf(':');
        return target.Length <= MaxForwardTargetLength && colon > 0
            && int.TryParse(target.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port)
            && port is >= 1 and <= 65535
            && !target.AsSpan(0, colon).ContainsAny(NotInHost);
    }
}
