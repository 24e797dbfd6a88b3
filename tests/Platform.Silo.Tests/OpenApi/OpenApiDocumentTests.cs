using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Platform.Testing;

namespace Platform.Silo.Tests.OpenApi;

/// <summary>The OpenAPI document of the public API, read from a real silo: what it lists, and that it reads well.</summary>
public sealed partial class OpenApiDocumentTests
{
    private static readonly string[] Methods = ["get", "put", "post", "delete", "patch"];

    [Fact]
    public async Task Document_Anonymous_ListsEveryPublicEndpointAndNoInternalOne()
    {
        var (_, document) = await ReadAsync();

        var paths = document.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        Assert.All(paths, p => Assert.StartsWith("/v1/", p, StringComparison.Ordinal));
        Assert.Contains("/v1/tenants/{slug}/config", paths);
        Assert.Contains("/v1/tenants/{slug}/host-names/{name}/verify", paths);
        Assert.DoesNotContain(paths, p => p.Contains("internal", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Document_Texts_ReadAsProseWithoutCodeReferences()
    {
        var (_, document) = await ReadAsync();

        var leaks = Texts(document, "$").Where(t => CodeReference().IsMatch(t.Text)).Select(t => $"{t.Where}: {t.Text}").ToList();

        Assert.True(leaks.Count == 0, "Texts that show C# signatures or XML markup:\n" + string.Join("\n", leaks));
    }

    [Fact]
    public async Task Document_EveryOperation_DeclaresSummarySecurityProblemsAndExamples()
    {
        var (_, document) = await ReadAsync();
        var faults = new List<string>();

        foreach (var (path, method, operation) in Operations(document))
        {
            var name = $"{method.ToUpperInvariant()} {path}";
            if (!operation.TryGetProperty("summary", out _))
            {
                faults.Add($"{name}: no summary");
            }

            var schemes = operation.GetProperty("security").EnumerateArray().SelectMany(r => r.EnumerateObject().Select(s => s.Name)).ToList();
            var operatorOnly = operation.GetProperty("responses").TryGetProperty("403", out var forbidden)
                && forbidden.GetProperty("description").GetString()!.Contains("`forbidden`", StringComparison.Ordinal);
            if (!schemes.Contains("operatorKey") || schemes.Contains("tenantKey") == operatorOnly)
            {
                faults.Add($"{name}: security {string.Join(", ", schemes)} does not say who may call it");
            }

            if (operation.TryGetProperty("requestBody", out var body) && !body.GetProperty("content").GetProperty("application/json").TryGetProperty("example", out _))
            {
                faults.Add($"{name}: request body without an example");
            }

            foreach (var response in operation.GetProperty("responses").EnumerateObject())
            {
                var status = int.Parse(response.Name, System.Globalization.CultureInfo.InvariantCulture);
                var content = response.Value.TryGetProperty("content", out var c) ? c : default;
                if (status >= 400)
                {
                    if (content.ValueKind != JsonValueKind.Object || !content.TryGetProperty("application/problem+json", out var problem))
                    {
                        faults.Add($"{name} {status}: not a problem document");
                        continue;
                    }

                    var codes = problem.GetProperty("schema").GetProperty("allOf")[1].GetProperty("properties").GetProperty("code").GetProperty("enum");
                    if (codes.GetArrayLength() == 0)
                    {
                        faults.Add($"{name} {status}: no codes");
                    }
                }
                else if (content.ValueKind == JsonValueKind.Object && !content.GetProperty("application/json").TryGetProperty("example", out _))
                {
                    faults.Add($"{name} {status}: answer without an example");
                }
            }

            foreach (var required in new[] { "401", "500" })
            {
                if (!operation.GetProperty("responses").TryGetProperty(required, out _))
                {
                    faults.Add($"{name}: {required} not declared");
                }
            }
        }

        Assert.True(faults.Count == 0, string.Join("\n", faults));
    }

    [Fact]
    public async Task Document_Examples_MatchTheirSchemas()
    {
        var (conformance, document) = await ReadAsync();
        var faults = new List<string>();
        var checkedExamples = 0;

        foreach (var (path, method, operation) in Operations(document))
        {
            var at = $"/paths/{ApiConformance.Escape(path)}/{method}";
            var media = new List<(string Pointer, JsonElement Media)>();
            if (operation.TryGetProperty("requestBody", out var body))
            {
                media.AddRange(body.GetProperty("content").EnumerateObject().Select(m => ($"{at}/requestBody/content/{ApiConformance.Escape(m.Name)}", m.Value)));
            }

            foreach (var response in operation.GetProperty("responses").EnumerateObject())
            {
                if (response.Value.TryGetProperty("content", out var content))
                {
                    media.AddRange(content.EnumerateObject().Select(m => ($"{at}/responses/{response.Name}/content/{ApiConformance.Escape(m.Name)}", m.Value)));
                }
            }

            foreach (var (pointer, value) in media.Where(m => m.Media.TryGetProperty("example", out _)))
            {
                checkedExamples++;
                faults.AddRange(conformance.Validate(pointer + "/schema", value.GetProperty("example")).Select(f => $"{pointer}: {f}"));
            }
        }

        Assert.True(faults.Count == 0, string.Join("\n", faults));
        Assert.True(checkedExamples > 100, $"Only {checkedExamples} examples were checked.");
    }

    [Fact]
    public async Task Document_ParametersAndHeaders_CarryTheirTypesAndBounds()
    {
        var (_, document) = await ReadAsync();
        var tenants = document.GetProperty("paths").GetProperty("/v1/tenants").GetProperty("get");
        var config = document.GetProperty("paths").GetProperty("/v1/tenants/{slug}/config");

        var offset = Parameter(tenants, "offset").GetProperty("schema");
        var limit = Parameter(tenants, "limit").GetProperty("schema");
        Assert.Equal("integer", offset.GetProperty("type").GetString());
        Assert.Equal(0, offset.GetProperty("default").GetInt32());
        Assert.Equal(0, offset.GetProperty("minimum").GetInt32());
        Assert.Equal("integer", limit.GetProperty("type").GetString());
        Assert.Equal(100, limit.GetProperty("default").GetInt32());
        Assert.Equal(1000, limit.GetProperty("maximum").GetInt32());

        var put = config.GetProperty("put");
        var ifMatch = Parameter(put, "If-Match");
        Assert.Equal("header", ifMatch.GetProperty("in").GetString());
        Assert.True(ifMatch.GetProperty("required").GetBoolean());
        Assert.Contains("stale_revision", put.GetProperty("responses").GetProperty("412").GetRawText(), StringComparison.Ordinal);
        Assert.Contains("precondition_required", put.GetProperty("responses").GetProperty("428").GetRawText(), StringComparison.Ordinal);
        Assert.True(put.GetProperty("responses").GetProperty("200").GetProperty("headers").TryGetProperty("ETag", out _));
        Assert.True(config.GetProperty("get").GetProperty("responses").GetProperty("200").GetProperty("headers").TryGetProperty("ETag", out _));
        var verify = document.GetProperty("paths").GetProperty("/v1/tenants/{slug}/host-names/{name}/verify").GetProperty("post");
        Assert.True(verify.GetProperty("responses").GetProperty("429").GetProperty("headers").TryGetProperty("Retry-After", out _));
    }

    private static JsonElement Parameter(JsonElement operation, string name) =>
        operation.GetProperty("parameters").EnumerateArray().Single(p => p.GetProperty("name").GetString() == name);

    private static IEnumerable<(string Path, string Method, JsonElement Operation)> Operations(JsonElement document) =>
        document.GetProperty("paths").EnumerateObject().SelectMany(p => p.Value.EnumerateObject()
            .Where(o => Methods.Contains(o.Name)).Select(o => (p.Name, o.Name, o.Value)));

    private static IEnumerable<(string Where, string Text)> Texts(JsonElement element, string where) => element.ValueKind switch
    {
        JsonValueKind.Object => element.EnumerateObject().SelectMany(p =>
            p.Name is "description" or "summary" or "title" && p.Value.ValueKind == JsonValueKind.String
                ? [($"{where}.{p.Name}", p.Value.GetString()!)]
                : p.Name is "example" or "default" or "enum" or "pattern" ? [] : Texts(p.Value, $"{where}.{p.Name}")),
        JsonValueKind.Array => element.EnumerateArray().SelectMany((e, i) => Texts(e, $"{where}[{i}]")),
        _ => [],
    };

    private static async Task<(ApiConformance Conformance, JsonElement Document)> ReadAsync()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var response = await silo.AnonymousClient().GetAsync(new Uri("/openapi/v1.json", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var conformance = new ApiConformance(await response.Content.ReadAsStringAsync());
        return (conformance, conformance.Document);
    }

    // What XML doc comments turn into when a reference leaks: "see bool Names.IsValidSlug(string? slug)",
    // "At least int OperatorPasswordPolicy.MinLength characters", or markup and entities left as text.
    [GeneratedRegex(@"\b(?:string|int|long|bool|Guid|DateTimeOffset|void)\??(?:\[\])?\s+[A-Z]\w*\.[A-Z]\w*|\bsee [A-Z]\w*\.|\bsee [A-Z][a-z]+[A-Z]\w*\b|<see|<c>|cref=|&lt;|&gt;|&amp;|\b[A-Z]\w+\.[A-Z]\w+\(")]
    private static partial Regex CodeReference();
}
