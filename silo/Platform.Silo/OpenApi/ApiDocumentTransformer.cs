using System.Net;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Platform.Contracts.Problems;

namespace Platform.Silo.OpenApi;

/// <summary>
/// The parts of the document that belong to no one endpoint: what the API is, its two kinds of key, its tags, the
/// problem document every error answer carries, and descriptions that read as text (XML doc comments keep entities
/// such as <c>&amp;lt;</c> escaped; they are decoded here).
/// </summary>
internal sealed class ApiDocumentTransformer : IOpenApiDocumentTransformer
{
    public const string OperatorScheme = "operatorKey";
    public const string TenantScheme = "tenantKey";
    public const string ProblemSchema = "Problem";

    private const string Overview = """
        The REST API of the platform's control plane (the silo): tenants, their configuration and plan, host names,
        dedicated ports, certificates, API keys, DTLS PSK identities and raw public keys, connections and commands on them, gateways, the
        audit log and refusal reports.

        **Authentication.** Every call carries `Authorization: Bearer <key>`: the operator key (every tenant, and the
        operator-only endpoints) or a tenant API key `tk_{id}_{secret}` (its own tenant only: another tenant's resources
        answer `404 not_found`, exactly as if they did not exist). While a tenant is suspended its keys can read, and
        every other call answers `403 tenant_suspended`.

        **Errors.** Every error is an RFC 9457 problem document (`application/problem+json`) with a stable `code`; each
        answer below lists the codes it can carry. A `400 validation_failed` names each bad field or parameter in
        `errors`. Codes never change meaning; new ones may be added.

        **Lists.** Lists are pages `{items, total, offset, limit}` selected with the `offset` and `limit` query parameters.

        **Concurrency.** A tenant's configuration is replaced whole: `GET` answers its revision as an `ETag`, and `PUT`
        must send it back in `If-Match` (`428` without it, `412` when the configuration changed meanwhile).
        """;

    private static readonly (string Name, string Description)[] Tags =
    [
        ("Tenants", "Create, list, change, suspend, resume and delete tenants (operators), and read one's own tenant."),
        ("Configuration", "A tenant's configuration, one document replaced whole under optimistic concurrency (ETag and If-Match)."),
        ("Plans", "What a tenant may use: the ceilings its configuration is capped by and the counts its resources must fit. Operators set it."),
        ("Host names", "The names a tenant claims and their proof: a DNS TXT record, or an operator's approval. Only verified names route."),
        ("Dedicated ports", "Listener ports on every gateway reserved for one tenant (the only way to route plain TCP)."),
        ("Certificates", "Server certificates for TLS, WSS and DTLS, chosen by SNI."),
        ("API keys", "Keys a tenant's own systems call this API with. The secret is shown once."),
        ("PSK identities", "DTLS pre-shared keys. The key is write-only."),
        ("Raw public keys", "DTLS client raw public keys (RFC 7250) a tenant trusts, by SHA-256 fingerprint. Write-once."),
        ("Connections", "The directory of a tenant's connections and the commands sent to them through their gateway."),
        ("Stats", "Refused connections per minute and reason, and the platform-wide figures of the dashboard."),
        ("Audit", "Every change, who made it, and the revision it produced."),
        ("Usage", "Metered usage per tenant, hour and protocol: connection-seconds, peak concurrent connections, connections opened, messages and bytes."),
        ("Gateways", "The gateway nodes (operators): list and drain."),
        ("Operators", "Operator accounts of the admin portal (operators)."),
    ];

    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(document);
        document.Info = new OpenApiInfo { Title = "Platform REST API", Version = "v1", Description = Overview };
        document.Tags = new HashSet<OpenApiTag>(Tags.Select(t => new OpenApiTag { Name = t.Name, Description = t.Description }));

        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[OperatorScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "The operator key (`Platform:OperatorKey` of the silo). Reaches every tenant and the operator-only endpoints.",
        };
        document.Components.SecuritySchemes[TenantScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            BearerFormat = "tk_{id}_{secret}",
            Description = "A tenant API key (`POST /v1/tenants/{slug}/api-keys`). Reaches its own tenant only; operator-only endpoints answer `403 forbidden`.",
        };

        document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
        document.Components.Schemas[ProblemSchema] = Problem(document);

        foreach (var schema in document.Components.Schemas.Values)
        {
            DecodeSchema(schema, new HashSet<IOpenApiSchema>(ReferenceEqualityComparer.Instance));
        }

        foreach (var operation in (document.Paths ?? []).Values.SelectMany(p => p.Operations?.Values.AsEnumerable() ?? []))
        {
            operation.Description = Decode(operation.Description);
            foreach (var parameter in (operation.Parameters ?? []).OfType<OpenApiParameter>())
            {
                parameter.Description = Decode(parameter.Description);
            }

            if (operation.RequestBody is OpenApiRequestBody body)
            {
                body.Description = Decode(body.Description);
            }
        }

        return Task.CompletedTask;
    }

    private static OpenApiSchema Problem(OpenApiDocument document) => new()
    {
        Type = JsonSchemaType.Object,
        Description = "An RFC 9457 problem document. `code` is stable and says what went wrong; `title` and `detail` are for people.",
        Required = new HashSet<string>(["type", "title", "status", "code"]),
        Properties = new Dictionary<string, IOpenApiSchema>
        {
            ["type"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "`https://errors.platform.dev/{code}`." },
            ["title"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "A short summary of the kind of problem." },
            ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Description = "The HTTP status." },
            ["detail"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "What happened in this case." },
            ["code"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The stable error code." },
            ["errors"] = new OpenApiSchema
            {
                Type = JsonSchemaType.Array,
                Description = $"With `{ErrorCodes.ValidationFailed}`, `{ErrorCodes.MalformedBody}`, `{ErrorCodes.QuotaExceeded}` and conflicts on a field: each field in error, by its JSON path or parameter name.",
                Items = new OpenApiSchemaReference("FieldError", document),
            },
            ["traceId"] = new OpenApiSchema
            {
                Type = JsonSchemaType.String | JsonSchemaType.Null,
                Description = "The W3C trace id of the request, to quote when reporting a problem.",
            },
        },
        AdditionalPropertiesAllowed = false,
    };

    private static void DecodeSchema(IOpenApiSchema schema, HashSet<IOpenApiSchema> seen)
    {
        if (schema is OpenApiSchemaReference reference)
        {
            // A property that points at a component carries its own description beside the reference.
            reference.Description = Decode(reference.Description);
            return;
        }

        if (schema is not OpenApiSchema concrete || !seen.Add(concrete))
        {
            return;
        }

        concrete.Description = Decode(concrete.Description);
        foreach (var child in (concrete.Properties?.Values ?? []).Concat(concrete.AllOf ?? []).Concat(concrete.OneOf ?? []).Concat(concrete.AnyOf ?? []))
        {
            DecodeSchema(child, seen);
        }

        foreach (var child in new[] { concrete.Items, concrete.AdditionalProperties })
        {
            if (child is not null)
            {
                DecodeSchema(child, seen);
            }
        }
    }

    private static string? Decode(string? text) => text is null ? null : WebUtility.HtmlDecode(text);
}
