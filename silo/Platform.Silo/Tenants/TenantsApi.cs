using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Platform.Contracts.Config;
using Platform.Contracts.Problems;
using Platform.Contracts.Tenants;
using Platform.Silo.Audit;
using Platform.Silo.Data;
using Platform.Silo.Problems;
using Platform.Silo.Security;

namespace Platform.Silo.Tenants;

internal static class TenantsApi
{
    public const int MaxDisplayNameLength = 200;

    public static RouteGroupBuilder MapTenantsApi(this RouteGroupBuilder group)
    {
        group.MapPost("/tenants", CreateAsync)
            .RequireAuthorization(Claims.OperatorPolicy)
            .WithName("CreateTenant");
        group.MapGet("/tenants/{slug}", GetAsync)
            .WithName("GetTenant");
        return group;
    }

    private static async Task<Results<Created<TenantResponse>, ProblemHttpResult>> CreateAsync(
        CreateTenantRequest request, HttpContext context, NpgsqlDataSource dataSource, PlatformOptions platform,
        SecretProtector protector, TimeProvider time)
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
        errors.AddRange(TenantConfigStore.Validate(config, "config.", platform.Domain));
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
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
                config.Limits.MaxConnections, now, ct);
        }
        catch (PostgresException e) when (e.IsUniqueViolation("tenants_slug_key"))
        {
            return ProblemResults.Conflict(ErrorCodes.SlugTaken, $"A tenant with slug '{request.Slug}' already exists.", "slug");
        }

        var secret = TenantConfigStore.NextWebhookSecret(protector, tenantId, config, previous: null);
        await TenantConfigStore.InsertAsync(connection, transaction, tenantId, revision, config, secret, actor, now, ct);

        var conflict = await HostNameClaims.RebuildAsync(connection, transaction, tenantId, request.Slug, platform.Domain, config.HostNames, ct);
        if (conflict is not null)
        {
            return ProblemResults.Conflict(ErrorCodes.HostNameTaken, $"Host name '{conflict}' belongs to another tenant.",
                TenantConfigStore.ConflictField(conflict, request.Slug, platform.Domain, config, "config."));
        }

        await AuditWriter.WriteAsync(connection, transaction,
            new AuditEntry(actor, tenantId, request.Slug, "tenant.create", request.Slug, RevisionAfter: revision,
                Details: new { request.DisplayName }),
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
