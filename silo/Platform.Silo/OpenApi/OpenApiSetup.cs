using Scalar.AspNetCore;

namespace Platform.Silo.OpenApi;

/// <summary>
/// The public OpenAPI document of the <c>/v1</c> REST API and its interactive reference page. Both are anonymous: they
/// describe the API and hold no data. The internal API gateways call is not part of the document.
/// </summary>
internal static class OpenApiSetup
{
    public const string DocumentPath = "/openapi/v1.json";
    public const string ReferencePath = "/docs";

    public static IServiceCollection AddPlatformOpenApi(this IServiceCollection services) =>
        services.AddOpenApi(options =>
        {
            options.ShouldInclude = static description =>
                description.RelativePath?.StartsWith("v1/", StringComparison.Ordinal) == true;
            options.AddSchemaTransformer<ApiSchemaTransformer>();
            options.AddOperationTransformer<ApiOperationTransformer>();
            options.AddDocumentTransformer<ApiDocumentTransformer>();
        });

    public static WebApplication MapPlatformOpenApi(this WebApplication app)
    {
        app.MapOpenApi(DocumentPath).AllowAnonymous();

        // The page and its script are served by the silo itself: no CDN, no web fonts, no telemetry or assistant, and no
        // developer tools (their "share" and "generate SDK" send the document to a hosted service), so the reference works
        // on a machine without internet access and tells no third party who reads it.
        app.MapScalarApiReference(ReferencePath, options => options
                .WithTitle("Platform REST API")
                .WithOpenApiRoutePattern(DocumentPath)
                .HideDeveloperTools()
                .DisableDefaultFonts()
                .DisableTelemetry()
                .DisableAgent()
                .DisableMcp())
            .AllowAnonymous();
        return app;
    }
}
