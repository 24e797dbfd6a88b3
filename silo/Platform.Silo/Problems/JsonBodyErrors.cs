using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Platform.Contracts;
using Platform.Contracts.Problems;

namespace Platform.Silo.Problems;

/// <summary>
/// Says what is wrong with a JSON request body in the API's own words. System.Text.Json's messages name .NET types and
/// members (and, for a value it could not convert, the type that holds the value rather than the value's own), so they
/// are never passed on: the failure is classified, the JSON path turned into the API's field name, and the expected
/// form read from the endpoint's body type as the API's JSON options see it.
/// </summary>
internal static class JsonBodyErrors
{
    /// <summary>What went wrong: the field (null for the body as a whole), its field error code and the sentence.</summary>
    public readonly record struct Described(string? Field, string FieldCode, string Message);

    public static Described Describe(JsonException json, Type? bodyType)
    {
        ArgumentNullException.ThrowIfNull(json);
        // The reader's own exception comes wrapped: the text is not JSON at all, so there is no field to name.
        if (json.InnerException is JsonException)
        {
            return new(null, FieldErrorCodes.InvalidFormat, $"The request body is not valid JSON (line {json.LineNumber + 1}, byte {json.BytePositionInLine + 1}).");
        }

        var segments = ParsePath(json.Path);
        var field = segments is null ? null : Join(segments);
        var name = field ?? "A value";
        var message = json.Message;

        if (message.StartsWith("Duplicate propert", StringComparison.Ordinal))
        {
            return new(field, FieldErrorCodes.Duplicate, $"{name} appears twice; give each member once.");
        }

        if (message.StartsWith("The JSON property ", StringComparison.Ordinal) && segments is { Count: > 0 })
        {
            return new(field, FieldErrorCodes.Unknown, $"{name} is not a field of {Parent(segments)}.");
        }

        if (message.Contains("doesn't allow setting null values", StringComparison.Ordinal))
        {
            return new(field, FieldErrorCodes.Required, $"{name} must not be null.");
        }

        if (message.Contains("missing required properties", StringComparison.Ordinal) && segments is not null)
        {
            var missing = MissingMembers(message).Select(m => segments.Count == 0 ? m : $"{field}.{m}").ToList();
            if (missing.Count > 0)
            {
                return new(missing[0], FieldErrorCodes.Required,
                    $"{string.Join(", ", missing)} {(missing.Count == 1 ? "is" : "are")} required.");
            }
        }

        if (segments is not null && bodyType is not null && ExpectedAt(bodyType, segments) is { } expected)
        {
            return new(field, FieldErrorCodes.InvalidFormat, segments.Count == 0
                ? $"The request body must be {expected}."
                : $"{field} must be {expected}.");
        }

        return new(field, FieldErrorCodes.InvalidFormat, field is null
            ? "The request body does not have the expected shape."
            : $"{field} does not have the expected type or form.");
    }

    // "$.limits.maxConnections", "$.listeners[0]", "$['odd.key']": the members and indexes, in order; null if unreadable.
    private static List<string>? ParsePath(string? path)
    {
        if (path is null || !path.StartsWith('$'))
        {
            return null;
        }

        var segments = new List<string>();
        var i = 1;
        while (i < path.Length)
        {
            if (path[i] == '.')
            {
                var end = i + 1;
                while (end < path.Length && path[end] is not ('.' or '['))
                {
                    end++;
                }

                segments.Add(path[(i + 1)..end]);
                i = end;
            }
            else if (path.AsSpan(i).StartsWith("['"))
            {
                var end = path.IndexOf("']", i + 2, StringComparison.Ordinal);
                if (end < 0)
                {
                    return null;
                }

                segments.Add(path[(i + 2)..end]);
                i = end + 2;
            }
            else if (path[i] == '[')
            {
                var end = path.IndexOf(']', i);
                if (end < 0)
                {
                    return null;
                }

                segments.Add(path[i..(end + 1)]);
                i = end + 1;
            }
            else
            {
                return null;
            }
        }

        return segments;
    }

    private static string? Join(List<string> segments)
    {
        if (segments.Count == 0)
        {
            return null;
        }

        var text = new StringBuilder();
        foreach (var segment in segments)
        {
            if (text.Length > 0 && !segment.StartsWith('['))
            {
                text.Append('.');
            }

            text.Append(segment);
        }

        return text.ToString();
    }

    private static string Parent(List<string> segments) =>
        segments.Count == 1 ? "the request body" : Join(segments[..^1])!;

    // "... missing required properties including: 'text', 'kind'." The names are JSON names, the API's own.
    private static IEnumerable<string> MissingMembers(string message)
    {
        var at = message.IndexOf("including:", StringComparison.Ordinal);
        if (at < 0)
        {
            yield break;
        }

        var parts = message[at..].Split('\'');
        for (var i = 1; i < parts.Length; i += 2)
        {
            yield return parts[i];
        }
    }

    // Walks the body type along the path with the API's own JSON contract, so the names match what clients send.
    private static string? ExpectedAt(Type bodyType, List<string> segments)
    {
        var type = bodyType;
        foreach (var segment in segments)
        {
            var info = PlatformJson.Options.GetTypeInfo(type);
            if (segment.StartsWith('['))
            {
                if (info.Kind != JsonTypeInfoKind.Enumerable || info.ElementType is null)
                {
                    return null;
                }

                type = info.ElementType;
            }
            else if (info.Kind == JsonTypeInfoKind.Dictionary && info.ElementType is not null)
            {
                type = info.ElementType;
            }
            else if (info.Kind == JsonTypeInfoKind.Object
                && info.Properties.FirstOrDefault(p => string.Equals(p.Name, segment, StringComparison.OrdinalIgnoreCase)) is { } property)
            {
                type = property.PropertyType;
            }
            else
            {
                return null;
            }
        }

        return Kind(type);
    }

    private static string? Kind(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type.IsEnum)
        {
            return "one of: " + string.Join(", ", Enum.GetNames(type).Select(JsonNamingPolicy.CamelCase.ConvertName));
        }

        switch (Type.GetTypeCode(type))
        {
            case TypeCode.Byte or TypeCode.SByte or TypeCode.Int16 or TypeCode.UInt16 or TypeCode.Int32 or TypeCode.UInt32 or TypeCode.Int64 or TypeCode.UInt64:
                var (min, max) = Range(type);
                return $"a whole number from {min} to {max}";
            case TypeCode.Single or TypeCode.Double or TypeCode.Decimal:
                return "a number";
            case TypeCode.Boolean:
                return "true or false";
            case TypeCode.String or TypeCode.Char:
                return "a string";
            case TypeCode.DateTime:
                return "a date and time (ISO 8601, e.g. 2025-01-31T12:00:00Z)";
            default:
                break;
        }

        if (type == typeof(DateTimeOffset))
        {
            return "a date and time (ISO 8601, e.g. 2025-01-31T12:00:00Z)";
        }

        if (type == typeof(Guid))
        {
            return "a UUID string";
        }

        if (type == typeof(TimeSpan))
        {
            return "a duration string (hh:mm:ss)";
        }

        if (type == typeof(JsonElement))
        {
            return null;
        }

        return PlatformJson.Options.GetTypeInfo(type).Kind switch
        {
            JsonTypeInfoKind.Enumerable => "an array",
            JsonTypeInfoKind.Object or JsonTypeInfoKind.Dictionary => "an object",
            _ => null,
        };
    }

    private static (string Min, string Max) Range(Type type) => Type.GetTypeCode(type) switch
    {
        TypeCode.Byte => (Text(byte.MinValue), Text(byte.MaxValue)),
        TypeCode.SByte => (Text(sbyte.MinValue), Text(sbyte.MaxValue)),
        TypeCode.Int16 => (Text(short.MinValue), Text(short.MaxValue)),
        TypeCode.UInt16 => (Text(ushort.MinValue), Text(ushort.MaxValue)),
        TypeCode.Int32 => (Text(int.MinValue), Text(int.MaxValue)),
        TypeCode.UInt32 => (Text(uint.MinValue), Text(uint.MaxValue)),
        TypeCode.Int64 => (Text(long.MinValue), Text(long.MaxValue)),
        _ => (Text(ulong.MinValue), Text(ulong.MaxValue)),
    };

    private static string Text<T>(T value) where T : IFormattable => value.ToString(null, CultureInfo.InvariantCulture);
}
