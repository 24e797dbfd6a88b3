using System.Text.Json;
using System.Text.Json.Serialization;

namespace Platform.Contracts.Connections;

/// <summary>
/// Reads and writes connection metadata as a JSON object whose keys are kept exactly as the tenant's webhook gave them
/// (the platform's dictionary key policy would camel-case them). Only string values are read; the entry rules of
/// <see cref="ConnectionMetadata"/> are checked by whoever stores or applies the metadata, not here.
/// </summary>
public sealed class MetadataJsonConverter : JsonConverter<IReadOnlyDictionary<string, string>>
{
    /// <inheritdoc/>
    public override IReadOnlyDictionary<string, string>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException("Metadata must be a JSON object.");
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var key = reader.GetString()!;
            if (!reader.Read() || reader.TokenType != JsonTokenType.String)
            {
                throw new JsonException($"Metadata value of '{key}' must be a string.");
            }

            if (!metadata.TryAdd(key, reader.GetString()!))
            {
                throw new JsonException($"Metadata key '{key}' is given twice.");
            }
        }

        return metadata;
    }

    /// <inheritdoc/>
    public override void Write(Utf8JsonWriter writer, IReadOnlyDictionary<string, string> value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(value);
        writer.WriteStartObject();
        foreach (var (key, entry) in value)
        {
            writer.WriteString(key, entry);
        }

        writer.WriteEndObject();
    }
}
