using System.Text.Json;
using System.Text.Json.Serialization;

namespace Platform.Contracts;

/// <summary>The JSON conventions shared by the REST API, the internal API and their clients.</summary>
public static class PlatformJson
{
    /// <summary>
    /// camelCase names, strings for enums, unknown members rejected (a misspelt setting is an error,
    /// not a silently ignored field), a member given twice rejected (rather than the last one winning
    /// unseen), no comments or trailing commas.
    /// </summary>
    public static JsonSerializerOptions Options { get; } = Locked(Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web)));

    /// <summary>
    /// <see cref="Options"/>, except that a member the reader does not know is skipped: for JSON another build of the
    /// platform wrote (a gateway or silo one release older or newer, during a rolling upgrade) and that is only read,
    /// never written back: the cluster's wire, rows read to serve gateways, webhooks or listings, and the gateway's
    /// sealed snapshot. Never for a client's input (a misspelt setting must be an error), nor for what is read to be
    /// changed and stored again or returned to a client who may send it back (the members of the newer build would be
    /// dropped without a word).
    /// </summary>
    public static JsonSerializerOptions Tolerant { get; } = Locked(new(Options) { UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip });

    /// <summary>Applies the platform conventions to an options instance (for framework-owned options).</summary>
    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        options.DictionaryKeyPolicy = JsonNamingPolicy.CamelCase;
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        options.AllowDuplicateProperties = false;
        options.NumberHandling = JsonNumberHandling.Strict;
        options.ReadCommentHandling = JsonCommentHandling.Disallow;
        options.AllowTrailingCommas = false;
        options.MaxDepth = 32;
        options.RespectNullableAnnotations = true;
        if (!options.Converters.OfType<JsonStringEnumConverter>().Any())
        {
            options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        }

        return options;
    }

    // Shared instances are frozen when made, with the reflection resolver in place: nobody can change them under
    // another reader, and GetTypeInfo answers before any serializer call has used them (it does not add the resolver).
    private static JsonSerializerOptions Locked(JsonSerializerOptions options)
    {
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
