using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace Platform.Testing;

/// <summary>
/// Holds answers of the silo's public API to its OpenAPI document: the path and method must be documented, the status
/// declared, the media type and body those the document gives for that status (validated as JSON Schema 2020-12, the
/// dialect of OpenAPI 3.1), and every header the document says that answer always carries present.
/// </summary>
public sealed class ApiConformance
{
    private static readonly EvaluationOptions Evaluation = new() { OutputFormat = OutputFormat.List };
    private const string ComponentPrefix = "#/components/schemas/";

    private readonly JsonDocument _document;
    private readonly JsonObject _definitions;
    private readonly ConcurrentDictionary<string, JsonSchema> _schemas = new(StringComparer.Ordinal);

    public ApiConformance(string documentJson)
    {
        _document = JsonDocument.Parse(documentJson);
        // The document's schemas refer to its components; as JSON Schema they become the $defs of each schema checked.
        _definitions = Rewrite(JsonNode.Parse(Document.GetProperty("components").GetProperty("schemas").GetRawText())!).AsObject();
    }

    /// <summary>The parsed document.</summary>
    public JsonElement Document => _document.RootElement;

    /// <summary>Every operation of the document as (method, path), the method in upper case.</summary>
    public IEnumerable<(string Method, string Path)> Operations =>
        Document.GetProperty("paths").EnumerateObject().SelectMany(path => path.Value.EnumerateObject()
            .Where(o => o.Name is "get" or "put" or "post" or "delete" or "patch")
            .Select(o => (o.Name.ToUpperInvariant(), path.Name)));

    /// <summary>What is wrong with <paramref name="exchange"/>; empty when it matches the document.</summary>
    public IReadOnlyList<string> Check(ApiExchange exchange)
    {
        ArgumentNullException.ThrowIfNull(exchange);
        var problems = new List<string>();
        if (!Document.GetProperty("paths").TryGetProperty(exchange.RoutePattern, out var path))
        {
            problems.Add($"{exchange}: the path {exchange.RoutePattern} is not in the document.");
            return problems;
        }

        var method = exchange.Method.ToLowerInvariant();
        if (!path.TryGetProperty(method, out var operation))
        {
            problems.Add($"{exchange}: {exchange.Method} {exchange.RoutePattern} is not in the document.");
            return problems;
        }

        var status = exchange.Status.ToString(CultureInfo.InvariantCulture);
        if (!operation.GetProperty("responses").TryGetProperty(status, out var response))
        {
            problems.Add($"{exchange}: status {status} is not declared.{Summary(exchange)}");
            return problems;
        }

        foreach (var header in response.TryGetProperty("headers", out var headers) ? headers.EnumerateObject() : default)
        {
            if (header.Value.TryGetProperty("required", out var required) && required.GetBoolean()
                && !exchange.Headers.ContainsKey(header.Name))
            {
                problems.Add($"{exchange}: the header {header.Name} the document promises is missing.");
            }
        }

        if (!response.TryGetProperty("content", out var content))
        {
            if (exchange.Body.Length > 0)
            {
                problems.Add($"{exchange}: a body ({exchange.ContentType}) where the document declares none.{Summary(exchange)}");
            }

            return problems;
        }

        if (exchange.ContentType is null || !content.TryGetProperty(exchange.ContentType, out var media))
        {
            problems.Add($"{exchange}: media type {exchange.ContentType ?? "(none)"} is not declared; the document has {string.Join(", ", content.EnumerateObject().Select(c => c.Name))}.");
            return problems;
        }

        if (!media.TryGetProperty("schema", out _))
        {
            return problems;
        }

        var pointer = $"/paths/{Escape(exchange.RoutePattern)}/{method}/responses/{status}/content/{Escape(exchange.ContentType)}/schema";
        JsonDocument body;
        try
        {
            body = JsonDocument.Parse(exchange.Body);
        }
        catch (JsonException e)
        {
            problems.Add($"{exchange}: the body is not JSON ({e.Message}).");
            return problems;
        }

        using (body)
        {
            var failures = Validate(pointer, body.RootElement);
            problems.AddRange(failures.Select(p => $"{exchange}: {p}{Summary(exchange)}"));
        }

        return problems;
    }

    /// <summary>Validates <paramref name="instance"/> against the schema at the JSON Pointer <paramref name="location"/> of the document.</summary>
    public IReadOnlyList<string> Validate(string location, JsonElement instance)
    {
        ArgumentNullException.ThrowIfNull(location);
        var schema = _schemas.GetOrAdd(location, l =>
        {
            var node = Rewrite(JsonNode.Parse(Resolve(l).GetRawText())!);
            if (node is JsonObject o)
            {
                o["$defs"] = _definitions.DeepClone();
            }

            return JsonSchema.Build(JsonSerializer.SerializeToElement(node), new BuildOptions { Dialect = Dialect.Draft202012 });
        });
        var result = schema.Evaluate(instance, Evaluation);
        if (result.IsValid)
        {
            return [];
        }

        return [.. (result.Details ?? []).Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(e => $"at '{d.InstanceLocation}' ({d.EvaluationPath}): {e.Key}: {e.Value}"))
            .DefaultIfEmpty("the body does not match the declared schema.")];
    }

    private JsonElement Resolve(string location)
    {
        var element = Document;
        foreach (var token in location.Split('/').Skip(1))
        {
            var name = token.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            element = element.ValueKind == JsonValueKind.Array
                ? element[int.Parse(name, CultureInfo.InvariantCulture)]
                : element.GetProperty(name);
        }

        return element;
    }

    private static JsonNode Rewrite(JsonNode node)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (key, value) in o.ToList())
                {
                    if (key == "$ref" && value?.GetValue<string>() is { } target && target.StartsWith(ComponentPrefix, StringComparison.Ordinal))
                    {
                        o[key] = "#/$defs/" + target[ComponentPrefix.Length..];
                    }
                    else if (value is not null)
                    {
                        Rewrite(value);
                    }
                }

                break;
            case JsonArray a:
                foreach (var item in a)
                {
                    if (item is not null)
                    {
                        Rewrite(item);
                    }
                }

                break;
        }

        return node;
    }

    /// <summary>A JSON Pointer reference token.</summary>
    public static string Escape(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return token.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);
    }

    private static string Summary(ApiExchange exchange) =>
        exchange.Body.Length == 0 ? "" : $" Body: {(exchange.Body.Length > 600 ? exchange.Body[..600] + "..." : exchange.Body)}";
}
