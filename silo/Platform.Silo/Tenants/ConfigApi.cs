using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Platform.Contracts.Config;
using Platform.Contracts.Plans;
using Platform.Contracts.Problems;
using Platform.Contracts.Tenants;
using Platform.Silo.Audit;
using Platform.Silo.Data;
using Platform.Silo.HostNames;
using Platform.Silo.OpenApi;
using Platform.Silo.Plans;
using Platform.Silo.Problems;
using Platform.Silo.Security;
using Platform.Silo.Tenants.Grains;

namespace Platform.Silo.Tenants;

/// <summary>
/// A tenant's configuration as one document, replaced whole under optimistic concurrency: the ETag is
/// the config revision and a replacement must name the revision it was based on.
/// </summary>
internal static class ConfigApi
{
    public static RouteGroupBuilder MapConfigApi(this RouteGroupBuilder group)
    {
        var config = group.MapGroup("/tenants/{slug}/config").WithTags("Configuration");
        config.MapGet("", GetAsync)
            .WithName("GetTenantConfig")
            .WithSummary("Get a tenant's configuration")
            .WithDescription("The configuration and its revision. Write-only members (the webhook secret) are null; `hasSecret` says whether one is stored.")
            .ResponseHeader(StatusCodes.Status200OK, "ETag", "The configuration's revision as a strong ETag, for example `\"42\"`; send it back in `If-Match` to replace it.")
            .Problem(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ConfigFromNewerRelease)
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.ConfigAnswer);
        config.MapPut("", ReplaceAsync)
            .WithName("ReplaceTenantConfig")
            .WithSummary("Replace a tenant's configuration")
            .WithDescription("Replaces the whole configuration under optimistic concurrency: `If-Match` names the ETag of the configuration the new one is based on. Its values must fit the tenant's plan. The answer carries the new ETag and, in `warnings`, settings that are valid but probably not meant.")
            .RequestHeader("If-Match", "The ETag of the configuration this replacement is based on, as `GET` answered it (one strong ETag, for example `\"42\"`).", required: true)
            .ResponseHeader(StatusCodes.Status200OK, "ETag", "The new configuration's revision as a strong ETag.")
            .Problem(StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed)
            .Problem(StatusCodes.Status409Conflict, ErrorCodes.HostNameTaken, ErrorCodes.QuotaExceeded)
            .Problem(StatusCodes.Status412PreconditionFailed, ErrorCodes.StaleRevision)
            .Problem(StatusCodes.Status428PreconditionRequired, ErrorCodes.PreconditionRequired)
            .RequestExample(ApiExamples.Config)
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.ConfigAnswer with { Revision = 43 });
        return group;
    }

    private static async Task<Results<Ok<ConfigResponse>, ProblemHttpResult>> GetAsync(string slug, HttpContext context, IGrainFactory grains)
    {
        // From the grain's memory: the configuration as last committed, secret removed.
        if (await grains.GetVisibleAsync(context, slug) is not { } tenant)
        {
            return TenantsApi.TenantNotFound(slug);
        }

        if (!tenant.TryConfig(out var config))
        {
            return ProblemResults.Problem(
                StatusCodes.Status503ServiceUnavailable, ErrorCodes.ConfigFromNewerRelease, "Configuration from a newer release",
                "The configuration was stored by a newer release of the platform, with settings this node does not know. Read it from a node of that release, or replace it with PUT.");
        }

        context.Response.Headers.ETag = ETag(tenant.Row.ConfigRevision);
        return TypedResults.Ok(new ConfigResponse(tenant.Row.ConfigRevision, config));
    }

    private static async Task<Results<Ok<ConfigResponse>, ProblemHttpResult>> ReplaceAsync(
        string slug, TenantConfig config, HttpContext context, IGrainFactory grains, PlatformOptions platform,
        SecretProtector protector, PublicSuffixList suffixes)
    {
        // Visibility first, so another tenant's slug answers 404 whatever the request looks like.
        if (await grains.GetVisibleAsync(context, slug) is not { } tenant)
        {
            return TenantsApi.TenantNotFound(slug);
        }

        var ifMatch = context.Request.Headers.IfMatch.ToString();
        if (ifMatch.Length == 0)
        {
            return ProblemResults.Problem(StatusCodes.Status428PreconditionRequired, ErrorCodes.PreconditionRequired,
                "Precondition required", "Send If-Match with the ETag of the configuration this replacement is based on.");
        }

        if (!TryParseETag(ifMatch, out var expected))
        {
            return StaleRevision("If-Match is not an ETag this endpoint issued; read the configuration again.");
        }

        var errors = TenantConfigStore.Validate(config, "", platform.Domain, platform.EgressPolicy);
        HostNamePolicy.AddConfigErrors(errors, config.HostNames, "", suffixes);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        // A new webhook secret is encrypted here, bound to the tenant read above; the grain refuses it for any other tenant.
        var newSecret = config.Delivery.Webhook?.Secret is { } plain ? protector.Protect(plain, SecretPurposes.WebhookSecret, tenant.Id) : null;
        var reply = await grains.GetGrain<ITenantGrain>(tenant.Slug).ReplaceConfigAsync(
            new ReplaceConfigCommand(context.Scope(), tenant.Id, expected, TenantsApi.ConfigJson(config), newSecret, context.ActorName()));
        if (reply.Problem is { } problem)
        {
            return problem.ToResult();
        }

        var after = reply.Tenant ?? throw new InvalidOperationException($"Tenant {tenant.Id} vanished inside its own write.");
        context.Response.Headers.ETag = ETag(after.Row.ConfigRevision);
        return TypedResults.Ok(new ConfigResponse(after.Row.ConfigRevision, after.Config(), TenantConfigValidator.Warnings(config)));
    }

    public static string ETag(long revision) => $"\"{revision.ToString(CultureInfo.InvariantCulture)}\"";

    /// <summary>Accepts exactly one strong ETag of the form <c>"123"</c>.</summary>
    public static bool TryParseETag(string value, out long revision)
    {
        revision = 0;
        var trimmed = value.Trim();
        return trimmed.Length > 2 && trimmed[0] == '"' && trimmed[^1] == '"'
            && long.TryParse(trimmed.AsSpan(1, trimmed.Length - 2), NumberStyles.None, CultureInfo.InvariantCulture, out revision);
    }

    public static ProblemHttpResult StaleRevision(string detail) =>
        ProblemResults.Problem(StatusCodes.Status412PreconditionFailed, ErrorCodes.StaleRevision, "Stale revision", detail);
}
