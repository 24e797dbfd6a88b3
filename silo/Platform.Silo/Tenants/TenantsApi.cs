using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
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
        tenants.MapPost("/{slug}/suspend", (string slug, HttpContext context, NpgsqlDataSource dataSource, PlatformClock time) =>
                SetStatusAsync(slug, TenantStatuses.Suspended, context, dataSource, time))
            .RequireAuthorization(Claims.OperatorPolicy)
            .WithName("SuspendTenant")
            .WithSummary("Suspend a tenant")
            .WithDescription("Gateways refuse the tenant's connections and its keys can only read. Suspending a suspended tenant changes nothing.")
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.Tenant with { Status = TenantStatuses.Suspended });
        tenants.MapPost("/{slug}/resume", (string slug, HttpContext context, NpgsqlDataSource dataSource, PlatformClock time) =>
                SetStatusAsync(slug, TenantStatuses.Active, context, dataSource, time))
            .RequireAuthorization(Claims.OperatorPolicy)
            .WithName("ResumeTenant")
            .WithSummary("Resume a suspended tenant")
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.Tenant);
        return group;
    }

    private static async Task<Results<Created<TenantResponse>, ProblemHttpResult>> CreateAsync(
        CreateTenantRequest request, HttpContext context, NpgsqlDataSource dataSource, PlatformOptions platform,
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

        var ct = context.RequestAborted;
        var now = time.GetUtcNow();
        var actor = context.ActorName();
        var tenantId = Guid.CreateVersion7(now);
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var revision = await ConfigRevisions.NextAsync(connection, transaction, ct);
        try
        {
            await TenantStore.InsertAsync(connection, transaction, tenantId, request.Slug, request.DisplayName, revision,
                EffectiveConfig.MaxConnections(config, plan), now, ct);
        }
        catch (PostgresException e) when (e.IsUniqueViolation("tenants_slug_key"))
        {
            return ProblemResults.Conflict(ErrorCodes.SlugTaken, $"A tenant with slug '{request.Slug}' already exists.", "slug");
        }

        await PlanStore.UpsertAsync(connection, transaction, tenantId, plan, now, ct);
        var secret = TenantConfigStore.NextWebhookSecret(protector, tenantId, config, previous: null);
        await TenantConfigStore.InsertAsync(connection, transaction, tenantId, revision, config, secret, actor, now, ct);

        var conflict = await HostNameClaims.RebuildAsync(connection, transaction, tenantId, request.Slug, platform.Domain, config.HostNames, now, ct);
        if (conflict is not null)
        {
            return ProblemResults.Conflict(ErrorCodes.HostNameTaken, conflict.Detail,
                TenantConfigStore.ConflictField(conflict.Name, request.Slug, platform.Domain, config, "config."));
        }

        await AuditWriter.WriteAsync(connection, transaction,
            new AuditEntry(actor, tenantId, request.Slug, "tenant.create", request.Slug, RevisionAfter: revision,
                Details: new { request.DisplayName, plan }),
            now, ct);
        await ConfigRevisions.NotifyAsync(connection, transaction, revision, ct);
        await transaction.CommitAsync(ct);

        var created = await TenantStore.GetAsync(connection, tenantId, null, ct)
            ?? throw new InvalidOperationException($"Tenant {tenantId} vanished after its creation.");
        return TypedResults.Created($"/v1/tenants/{created.Slug}", created);
    }

    private static async Task<Results<Ok<TenantResponse>, ProblemHttpResult>> GetAsync(
        string slug, HttpContext context, NpgsqlDataSource dataSource)
    {
        var ct = context.RequestAborted;
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var tenant = await TenantAccess.ResolveAsync(connection, context, slug);
        if (tenant is null)
        {
            return TenantNotFound(slug);
        }

        var response = await TenantStore.GetAsync(connection, tenant.Id, null, ct);
        return response is null ? TenantNotFound(slug) : TypedResults.Ok(response);
    }

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
        string slug, UpdateTenantRequest request, HttpContext context, NpgsqlDataSource dataSource, PlatformClock time)
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

        var ct = context.RequestAborted;
        var now = time.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var tenant = await TenantAccess.ResolveAsync(connection, context, slug, transaction, forUpdate: true);
        if (tenant is null)
        {
            return TenantNotFound(slug);
        }

        if (request.DisplayName is { } displayName)
        {
            var previous = await TenantStore.UpdateDisplayNameAsync(connection, transaction, tenant.Id, displayName, now, ct);
            if (!string.Equals(previous, displayName, StringComparison.Ordinal))
            {
                // The display name is not part of what gateways serve, so no revision is taken.
                await AuditWriter.WriteAsync(connection, transaction,
                    new AuditEntry(context.ActorName(), tenant.Id, tenant.Slug, "tenant.update", tenant.Slug,
                        Details: new { displayName = new { from = previous, to = displayName } }),
                    now, ct);
            }
        }

        var response = await TenantStore.GetAsync(connection, tenant.Id, transaction, ct)
            ?? throw new InvalidOperationException($"Tenant {tenant.Id} vanished inside its own transaction.");
        await transaction.CommitAsync(ct);
        return TypedResults.Ok(response);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        string slug, HttpContext context, NpgsqlDataSource dataSource, PlatformClock time)
    {
        var ct = context.RequestAborted;
        var now = time.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var tenant = await TenantAccess.ResolveAsync(connection, context, slug, transaction, forUpdate: true);
        if (tenant is null)
        {
            return TenantNotFound(slug);
        }

        // Tenant row, then the revision (and with it the commit lock), then everything else: the order
        // every revision writer follows, so that none waits on another while holding the commit lock.
        var revision = await ConfigRevisions.NextAsync(connection, transaction, ct);

        // Its ports cool down before they can go to another tenant; the rows outlive the tenant.
        await PortCooldowns.ReleaseAllAsync(connection, transaction, tenant.Id, now, ct);

        // The tombstone carries a fresh revision so that watches past the tenant's last revision still see it go.
        await TenantStore.DeleteAsync(connection, transaction, tenant.Id, revision, now, ct);
        await AuditWriter.WriteAsync(connection, transaction,
            new AuditEntry(context.ActorName(), tenant.Id, tenant.Slug, "tenant.delete", tenant.Slug,
                RevisionBefore: tenant.Revision, RevisionAfter: revision),
            now, ct);
        await ConfigRevisions.NotifyAsync(connection, transaction, revision, ct);
        await transaction.CommitAsync(ct);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<TenantResponse>, ProblemHttpResult>> SetStatusAsync(
        string slug, string status, HttpContext context, NpgsqlDataSource dataSource, PlatformClock time)
    {
        var ct = context.RequestAborted;
        var now = time.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var tenant = await TenantAccess.ResolveAsync(connection, context, slug, transaction, forUpdate: true);
        if (tenant is null)
        {
            return TenantNotFound(slug);
        }

        // Tenant row, then the revision (and with it the commit lock), then everything else: the order
        // every revision writer follows, so that none waits on another while holding the commit lock.
        var revision = await ConfigRevisions.NextAsync(connection, transaction, ct);

        if (tenant.Status != status)
        {
            await TenantStore.SetStatusAsync(connection, transaction, tenant.Id, status, ct);
            await TenantStore.StampRevisionAsync(connection, transaction, tenant.Id, revision, now, ct);
            await AuditWriter.WriteAsync(connection, transaction,
                new AuditEntry(context.ActorName(), tenant.Id, tenant.Slug,
                    status == TenantStatuses.Suspended ? "tenant.suspend" : "tenant.resume", tenant.Slug,
                    RevisionBefore: tenant.Revision, RevisionAfter: revision),
                now, ct);
        }

        var response = await TenantStore.GetAsync(connection, tenant.Id, transaction, ct)
            ?? throw new InvalidOperationException($"Tenant {tenant.Id} vanished inside its own transaction.");
        await transaction.CommitAsync(ct);
        return TypedResults.Ok(response);
    }

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
