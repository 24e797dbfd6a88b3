using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Plans;
using Platform.Contracts.Problems;
using Platform.Contracts.Tenants;
using Platform.Silo.Api;
using Platform.Silo.Audit;
using Platform.Silo.Data;
using Platform.Silo.HostNames;
using Platform.Silo.OpenApi;
using Platform.Silo.Plans;
using Platform.Silo.Problems;
using Platform.Silo.Security;
using Platform.Silo.Tenants.Grains;

namespace Platform.Silo.Tenants;

internal static class TenantsApi
{
    public const int MaxDisplayNameLength = 200;

    public static RouteGroupBuilder MapTenantsApi(this RouteGroupBuilder group)
    {
        var tenants = group.MapGroup("/tenants").WithTags("Tenants");
        tenants.MapPost("", CreateAsync)
            .RequireAuthorization(Claims.OperatorPolicy)
            .WithName("CreateTenant")
            .WithSummary("Create a tenant")
            .WithDescription("Creates a tenant with an optional initial configuration and plan. It is reachable at `{slug}.{domain}` at once; other host names route once verified.")
            .Problem(StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed)
            .Problem(StatusCodes.Status409Conflict, ErrorCodes.SlugTaken, ErrorCodes.HostNameTaken, ErrorCodes.QuotaExceeded)
            .RequestExample(ApiExamples.CreateTenant)
            .ResponseExample(StatusCodes.Status201Created, ApiExamples.Tenant);
        tenants.MapGet("", ListAsync)
            .RequireAuthorization(Claims.OperatorPolicy)
            .WithName("ListTenants")
            .WithSummary("List tenants")
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.Tenants);
        tenants.MapGet("/{slug}", GetAsync)
            .WithName("GetTenant")
            .WithSummary("Get a tenant")
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.Tenant);
        tenants.MapPatch("/{slug}", UpdateAsync)
            .RequireAuthorization(Claims.OperatorPolicy)
            .WithName("UpdateTenant")
            .WithSummary("Change a tenant's display name")
            .Problem(StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed)
            .RequestExample(ApiExamples.UpdateTenant)
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.Tenant with { DisplayName = ApiExamples.UpdateTenant.DisplayName! });
        tenants.MapDelete("/{slug}", DeleteAsync)
            .RequireAuthorization(Claims.OperatorPolicy)
            .WithName("DeleteTenant")
            .WithSummary("Delete a tenant")
            .WithDescription("Deletes the tenant and everything it owns; gateways close its connections. Its dedicated ports cool down before another tenant can get them.");
        tenants.MapPost("/{slug}/suspend", (string slug, HttpContext context, IGrainFactory grains) =>
                SetStatusAsync(slug, TenantStatuses.Suspended, context, grains))
            .RequireAuthorization(Claims.OperatorPolicy)
            .WithName("SuspendTenant")
            .WithSummary("Suspend a tenant")
            .WithDescription("Gateways refuse the tenant's connections and its keys can only read. Suspending a suspended tenant changes nothing.")
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.Tenant with { Status = TenantStatuses.Suspended });
        tenants.MapPost("/{slug}/resume", (string slug, HttpContext context, IGrainFactory grains) =>
                SetStatusAsync(slug, TenantStatuses.Active, context, grains))
            .RequireAuthorization(Claims.OperatorPolicy)
            .WithName("ResumeTenant")
            .WithSummary("Resume a suspended tenant")
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.Tenant);
        return group;
    }

    private static async Task<Results<Created<TenantResponse>, ProblemHttpResult>> CreateAsync(
        CreateTenantRequest request, HttpContext context, IGrainFactory grains, PlatformOptions platform,
        SecretProtector protector, PublicSuffixList suffixes, PlatformClock time)
    {
        var errors = new List<FieldError>();
        if (string.IsNullOrEmpty(request.Slug))
        {
            errors.Add(new FieldError("slug", FieldErrorCodes.Required, "A slug is required."));
        }
        else if (request.Slug.Length > Names.MaxSlugLength)
        {
            errors.Add(new FieldError("slug", FieldErrorCodes.TooLong, $"At most {Names.MaxSlugLength} characters."));
        }
        else if (!Names.IsValidSlug(request.Slug))
        {
            errors.Add(new FieldError("slug", FieldErrorCodes.InvalidFormat,
                "3..40 lower-case letters, digits and single hyphens, starting with a letter and not ending with a hyphen."));
        }

        ValidateDisplayName(request.DisplayName, errors);
        var config = request.Config ?? new TenantConfig();
        var plan = request.Plan ?? new TenantPlan();
        var configErrors = TenantConfigStore.Validate(config, "config.", platform.Domain, platform.EgressPolicy);
        HostNamePolicy.AddConfigErrors(configErrors, config.HostNames, "config.", suffixes);
        var planErrors = TenantPlanValidator.Validate(plan, "plan.");
        errors.AddRange(configErrors);
        errors.AddRange(planErrors);
        if (configErrors.Count == 0 && planErrors.Count == 0)
        {
            errors.AddRange(TenantPlanValidator.ValidateConfig(config, plan, "config."));
        }

        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        // A new tenant has no certificates yet: its custom host names are those of the configuration.
        if (PlanQuotas.CheckHostNames(plan, CustomHostNames.Of(config.HostNames, platform.Domain).Count) is { } exceeded)
        {
            return exceeded;
        }

        // The slug is valid here, so it has a grain; the grain orders concurrent creates of one slug.
        var tenantId = Guid.CreateVersion7(time.GetUtcNow());
        // The webhook secret is encrypted here, bound to the new tenant: only its ciphertext travels to the grain.
        var secret = TenantConfigStore.NextWebhookSecret(protector, tenantId, config, previous: null);
        var reply = await grains.GetGrain<ITenantGrain>(request.Slug).CreateAsync(new CreateTenantCommand(
            tenantId, request.DisplayName, ConfigJson(config), secret, JsonSerializer.Serialize(plan, PlatformJson.Options), context.ActorName()));
        if (reply.Problem is { } problem)
        {
            return problem.ToResult();
        }

        var created = reply.Tenant ?? throw new InvalidOperationException($"Tenant {tenantId} vanished after its creation.");
        return TypedResults.Created($"/v1/tenants/{created.Slug}", created.ToResponse());
    }

    /// <summary>The configuration as it is sent to a tenant grain: without the webhook secret, which travels only encrypted.</summary>
    internal static string ConfigJson(TenantConfig config) =>
        JsonSerializer.Serialize(TenantConfigStore.WithoutSecret(config, hasSecret: false), PlatformJson.Options);

    private static async Task<Results<Ok<TenantResponse>, ProblemHttpResult>> GetAsync(string slug, HttpContext context, IGrainFactory grains) =>
        await grains.GetVisibleAsync(context, slug) is { } tenant ? TypedResults.Ok(tenant.ToResponse()) : TenantNotFound(slug);

    private static async Task<Results<Ok<Page<TenantResponse>>, ProblemHttpResult>> ListAsync(
        [FromQuery] string? search, [FromQuery] string? offset, [FromQuery] string? limit, HttpContext context, NpgsqlDataSource dataSource)
    {
        var errors = new List<FieldError>();
        var (o, l) = Paging.Parse(offset, limit, errors);
        var filter = Paging.Filter("search", search, errors);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        await using var connection = await dataSource.OpenConnectionAsync(context.RequestAborted);
        var (items, total) = await TenantStore.ListAsync(connection, filter, o, l, context.RequestAborted);
        return TypedResults.Ok(new Page<TenantResponse>(items, total, o, l));
    }

    private static async Task<Results<Ok<TenantResponse>, ProblemHttpResult>> UpdateAsync(
        string slug, UpdateTenantRequest request, HttpContext context, IGrainFactory grains)
    {
        var errors = new List<FieldError>();
        if (request.DisplayName is not null)
        {
            ValidateDisplayName(request.DisplayName, errors);
        }

        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        if (grains.For(slug) is not { } grain)
        {
            return TenantNotFound(slug);
        }

        var reply = request.DisplayName is { } displayName
            ? await grain.RenameAsync(context.Scope(), displayName, context.ActorName())
            : new TenantReply(null, await grains.GetVisibleAsync(context, slug));
        return Answer(slug, reply);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string slug, HttpContext context, IGrainFactory grains)
    {
        if (grains.For(slug) is not { } grain)
        {
            return TenantNotFound(slug);
        }

        var reply = await grain.DeleteAsync(context.Scope(), context.ActorName());
        return reply.Problem is { } problem ? problem.ToResult() : TypedResults.NoContent();
    }

    private static async Task<Results<Ok<TenantResponse>, ProblemHttpResult>> SetStatusAsync(
        string slug, string status, HttpContext context, IGrainFactory grains) =>
        grains.For(slug) is { } grain
            ? Answer(slug, await grain.SetStatusAsync(context.Scope(), status, context.ActorName()))
            : TenantNotFound(slug);

    private static Results<Ok<TenantResponse>, ProblemHttpResult> Answer(string slug, TenantReply reply) =>
        reply.Problem is { } problem ? problem.ToResult()
        : reply.Tenant is { } tenant ? TypedResults.Ok(tenant.ToResponse())
        : TenantNotFound(slug);

    /// <summary>The one answer for a slug that does not exist and a slug the caller may not see.</summary>
    public static ProblemHttpResult TenantNotFound(string slug) =>
        ProblemResults.NotFound($"Tenant '{(Names.IsValidSlug(slug) ? slug : "?")}'");

    private static void ValidateDisplayName(string? displayName, List<FieldError> errors)
    {
        if (string.IsNullOrWhiteSpace(displayName))
        {
            errors.Add(new FieldError("displayName", FieldErrorCodes.Required, "A display name is required."));
        }
        else if (displayName.Length > MaxDisplayNameLength)
        {
            errors.Add(new FieldError("displayName", FieldErrorCodes.TooLong, $"At most {MaxDisplayNameLength} characters."));
        }
        else if (displayName.Any(char.IsControl))
        {
            errors.Add(new FieldError("displayName", FieldErrorCodes.InvalidFormat, "Control characters are not allowed."));
        }
    }
}
