using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.OpenApi;
using Platform.Contracts;
using Platform.Contracts.Problems;
using Platform.Silo.Security;

namespace Platform.Silo.OpenApi;

/// <summary>
/// Completes each operation from its endpoint's metadata: who may call it, its parameters' types and bounds, every
/// problem answer with the codes it can carry (those every endpoint of its kind can give, and those it declares with
/// <see cref="EndpointDocs"/>), its headers and its examples.
/// </summary>
internal sealed class ApiOperationTransformer : IOpenApiOperationTransformer
{
    private const string Json = "application/json";
    private const string ProblemJson = "application/problem+json";

    public async Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(operation);
        ArgumentNullException.ThrowIfNull(context);
        var description = context.Description;
        var document = context.Document ?? throw new InvalidOperationException("The operation transformer needs the document.");
        var route = "/" + (description.RelativePath ?? "").TrimEnd('/');
        var method = description.HttpMethod ?? "";
        var metadata = description.ActionDescriptor.EndpointMetadata;
        var operatorOnly = metadata.OfType<IAuthorizeData>().Any(a => a.Policy == Claims.OperatorPolicy);
        var hasBody = description.ParameterDescriptions.Any(p => p.Source == BindingSource.Body);

        operation.Security =
        [
            Requirement(ApiDocumentTransformer.OperatorScheme, document),
            .. operatorOnly ? Array.Empty<OpenApiSecurityRequirement>() : [Requirement(ApiDocumentTransformer.TenantScheme, document)],
        ];
        if (operatorOnly)
        {
            operation.Description = string.IsNullOrEmpty(operation.Description)
                ? "Operator key only."
                : operation.Description + "\n\nOperator key only.";
        }

        operation.Parameters ??= [];
        var paged = false;
        foreach (var parameter in operation.Parameters.OfType<OpenApiParameter>())
        {
            var (text, schema) = ApiParameters.Describe(route, parameter.Name ?? "", parameter.In);
            parameter.Description = text;
            parameter.Schema = schema;
            parameter.Required = parameter.In == ParameterLocation.Path;
            paged |= parameter.In == ParameterLocation.Query && parameter.Name is "offset" or "limit";
        }

        foreach (var header in metadata.OfType<DocumentedHeader>().Where(h => h.Status is null))
        {
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = header.Name,
                In = ParameterLocation.Header,
                Required = header.Required,
                Description = header.Description,
                Schema = new OpenApiSchema { Type = JsonSchemaType.String },
            });
        }

        var problems = new SortedDictionary<int, List<string>>();
        void Add(int status, IEnumerable<string> codes)
        {
            if (!problems.TryGetValue(status, out var list))
            {
                problems[status] = list = [];
            }

            list.AddRange(codes.Where(c => !list.Contains(c)));
        }

        // Every tenant-scoped endpoint answers an unknown slug, and another tenant's, alike.
        if (route.Contains("{slug}", StringComparison.Ordinal))
        {
            Add(StatusCodes.Status404NotFound, [ErrorCodes.NotFound]);
        }

        foreach (var declared in metadata.OfType<DocumentedProblem>())
        {
            Add(declared.Status, declared.Codes);
        }

        if (hasBody)
        {
            Add(StatusCodes.Status400BadRequest, [ErrorCodes.MalformedBody]);
            Add(StatusCodes.Status413PayloadTooLarge, [ErrorCodes.BodyTooLarge]);
        }

        if (paged)
        {
            Add(StatusCodes.Status400BadRequest, [ErrorCodes.ValidationFailed]);
        }

        Add(StatusCodes.Status401Unauthorized, [ErrorCodes.Unauthenticated]);
        if (operatorOnly)
        {
            Add(StatusCodes.Status403Forbidden, [ErrorCodes.Forbidden]);
        }
        else if (!HttpMethods.IsGet(method))
        {
            // SuspendedTenantWriteFilter: a suspended tenant's keys may read but not write.
            Add(StatusCodes.Status403Forbidden, [ErrorCodes.TenantSuspended]);
        }

        Add(StatusCodes.Status500InternalServerError, [ErrorCodes.Internal]);
        // ProblemExceptionHandler: a grain call that found its silo lost, before the cluster moved the grain.
        Add(StatusCodes.Status503ServiceUnavailable, [ErrorCodes.ClusterUnavailable]);

        operation.Responses ??= [];
        foreach (var (status, codes) in problems)
        {
            var key = status.ToString(CultureInfo.InvariantCulture);
            if (operation.Responses.ContainsKey(key))
            {
                throw new InvalidOperationException($"{method} {route} declares {status} both as a result and as a problem.");
            }

            operation.Responses[key] = ProblemResponse(status, codes, document);
        }

        foreach (var body in metadata.OfType<DocumentedBody>())
        {
            var media = JsonContent(Response(operation, body.Status, method, route), method, route);
            var name = body.Type.IsGenericType
                ? body.Type.Name[..body.Type.Name.IndexOf('`', StringComparison.Ordinal)] + "Of" + string.Join("And", body.Type.GetGenericArguments().Select(a => a.Name))
                : body.Type.Name;
            if (document.Components?.Schemas?.ContainsKey(name) != true)
            {
                document.AddComponent<IOpenApiSchema>(name, await context.GetOrCreateSchemaAsync(body.Type, null, cancellationToken));
            }

            media.Schema = new OpenApiSchemaReference(name, document);
        }

        if (operation.Responses.TryGetValue("201", out var created))
        {
            AddHeader(created, "Location", "The new resource's path.", required: true);
        }

        // The operators' password check answers 401 invalid_credentials without a challenge: the bearer key was fine.
        var challengeOnly = problems[StatusCodes.Status401Unauthorized] is [ErrorCodes.Unauthenticated];
        AddHeader(operation.Responses["401"], "WWW-Authenticate", challengeOnly ? "`Bearer`." : "`Bearer`, with `unauthenticated` only.", required: challengeOnly);
        foreach (var header in metadata.OfType<DocumentedHeader>().Where(h => h.Status is not null))
        {
            AddHeader(Response(operation, header.Status!.Value, method, route), header.Name, header.Description, header.Required);
        }

        foreach (var example in metadata.OfType<DocumentedExample>())
        {
            var content = example.Status is { } status
                ? Response(operation, status, method, route).Content
                : operation.RequestBody?.Content;
            if (content is null || !content.TryGetValue(Json, out var media))
            {
                throw new InvalidOperationException($"{method} {route} has an example for {example.Status?.ToString(CultureInfo.InvariantCulture) ?? "its request"} but no JSON body there.");
            }

            media.Example = JsonSerializer.SerializeToNode(example.Value, example.Value.GetType(), PlatformJson.Options);
        }
    }

    private static OpenApiMediaType JsonContent(IOpenApiResponse response, string method, string route) =>
        response.Content is { } content && content.TryGetValue(Json, out var media)
            ? media
            : throw new InvalidOperationException($"{method} {route} declares a body for an answer without a JSON body.");

    private static OpenApiSecurityRequirement Requirement(string scheme, OpenApiDocument document) =>
        new() { [new OpenApiSecuritySchemeReference(scheme, document)] = [] };

    private static IOpenApiResponse Response(OpenApiOperation operation, int status, string method, string route) =>
        operation.Responses!.TryGetValue(status.ToString(CultureInfo.InvariantCulture), out var response)
            ? response
            : throw new InvalidOperationException($"{method} {route} documents its {status} answer, which it does not declare.");

    private static void AddHeader(IOpenApiResponse response, string name, string description, bool required)
    {
        var concrete = (OpenApiResponse)response;
        concrete.Headers ??= new Dictionary<string, IOpenApiHeader>();
        concrete.Headers[name] = new OpenApiHeader
        {
            Description = description,
            Required = required,
            Schema = new OpenApiSchema { Type = JsonSchemaType.String },
        };
    }

    private static OpenApiResponse ProblemResponse(int status, List<string> codes, OpenApiDocument document)
    {
        var text = new StringBuilder();
        text.Append(ReasonPhrases.GetReasonPhrase(status)).Append(codes.Count == 1 ? ". `code`:" : ". `code` is one of:");
        foreach (var code in codes)
        {
            text.Append("\n- `").Append(code).Append("`: ").Append(ProblemCatalog.Meaning(code));
        }

        var first = codes[0];
        var example = new JsonObject
        {
            ["type"] = $"https://errors.platform.dev/{first}",
            ["title"] = ProblemCatalog.Title(first),
            ["status"] = status,
            ["detail"] = char.ToUpperInvariant(ProblemCatalog.Meaning(first)[0]) + ProblemCatalog.Meaning(first)[1..] + ".",
            ["code"] = first,
            ["traceId"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        };
        if (first == ErrorCodes.ValidationFailed)
        {
            example["errors"] = new JsonArray(new JsonObject
            {
                ["field"] = "displayName",
                ["code"] = FieldErrorCodes.Required,
                ["message"] = "A display name is required.",
            });
        }

        return new OpenApiResponse
        {
            Description = text.ToString(),
            Content = new Dictionary<string, OpenApiMediaType>
            {
                [ProblemJson] = new()
                {
                    Schema = new OpenApiSchema
                    {
                        AllOf =
                        [
                            new OpenApiSchemaReference(ApiDocumentTransformer.ProblemSchema, document),
                            new OpenApiSchema
                            {
                                Properties = new Dictionary<string, IOpenApiSchema>
                                {
                                    ["status"] = new OpenApiSchema { Enum = [JsonValue.Create(status)] },
                                    ["code"] = new OpenApiSchema { Enum = [.. codes.Select(c => (JsonNode)JsonValue.Create(c))] },
                                },
                            },
                        ],
                    },
                    Example = example,
                },
            },
        };
    }
}
