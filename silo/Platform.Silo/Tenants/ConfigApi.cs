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

    private static async Task<Results<Ok<ConfigResponse>, ProblemHttpResult>> GetAsync(
        string slug, HttpContext context, NpgsqlDataSource dataSource)
    {
        var ct = context.RequestAborted;
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var tenant = await TenantAccess.ResolveAsync(connection, context, slug);
        if (tenant is null)
        {
            return TenantsApi.TenantNotFound(slug);
        }

        var config = await TenantConfigStore.GetAsync(connection, tenant.Id, tenant.ConfigRevision, ct)
            ?? throw new InvalidOperationException($"Tenant {tenant.Id} has no configuration row for revision {tenant.ConfigRevision}.");
        context.Response.Headers.ETag = ETag(tenant.ConfigRevision);
        return TypedResults.Ok(new ConfigResponse(tenant.ConfigRevision, config));
    }

    private static async Task<Results<Ok<ConfigResponse>, ProblemHttpResult>> ReplaceAsync(
        string slug, TenantConfig config, HttpContext context, NpgsqlDataSource dataSource, PlatformOptions platform,
        SecretProtector protector, PublicSuffixList suffixes, PlatformClock time)
    {
        var ct = context.RequestAborted;
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        // Visibility first, so another tenant's slug answers 404 whatever the request looks like.
        if (await TenantAccess.ResolveAsync(connection, context, slug) is null)
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

        var now = time.GetUtcNow();
        var actor = context.ActorName();
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var tenant = await TenantAccess.ResolveAsync(connection, context, slug, transaction, forUpdate: true);
        if (tenant is null)
        {
            return TenantsApi.TenantNotFound(slug);
        }

        // Tenant row, then the revision (and with it the commit lock), then everything else: the order
        // every revision writer follows, so that none waits on another while holding the commit lock.
        // Of two writers holding the same ETag, the second reads the first's revision once it gets the row lock.
        var revision = await ConfigRevisions.NextAsync(connection, transaction, ct);

        if (tenant.ConfigRevision != expected)
        {
            return StaleRevision($"The configuration changed; its current ETag is {ETag(tenant.ConfigRevision)}.");
        }

        // Read under the tenant row lock, which a plan change takes too: the configuration is checked against the plan
        // it will run under.
        var plan = await PlanStore.GetAsync(connection, transaction, tenant.Id, ct);
        var abovePlan = TenantPlanValidator.ValidateConfig(config, plan);
        if (abovePlan.Count > 0)
        {
            return ProblemResults.Validation(abovePlan);
        }

        var hostNames = await PlanStore.CustomHostNamesAsync(connection, transaction, tenant.Id, platform.Domain, config.HostNames, ct);
        if (PlanQuotas.CheckHostNames(plan, hostNames.Count) is { } exceeded)
        {
            return exceeded;
        }

        var previousSecret = await TenantConfigStore.GetWebhookSecretAsync(connection, transaction, tenant.Id, tenant.ConfigRevision, ct);
        var secret = TenantConfigStore.NextWebhookSecret(protector, tenant.Id, config, previousSecret);
        await TenantConfigStore.InsertAsync(connection, transaction, tenant.Id, revision, config, secret, actor, now, ct);
        await TenantConfigStore.SetCurrentAsync(connection, transaction, tenant.Id, revision, EffectiveConfig.MaxConnections(config, plan), now, ct);

        // New names start pending; only a name another tenant has verified (or covers with a verified wildcard) is refused.
        var conflict = await HostNameClaims.RebuildAsync(connection, transaction, tenant.Id, tenant.Slug, platform.Domain, config.HostNames, now, ct);
        if (conflict is not null)
        {
            return ProblemResults.Conflict(ErrorCodes.HostNameTaken, conflict.Detail,
                TenantConfigStore.ConflictField(conflict.Name, tenant.Slug, platform.Domain, config, ""));
        }

        await AuditWriter.WriteAsync(connection, transaction,
            new AuditEntry(actor, tenant.Id, tenant.Slug, "config.replace", tenant.Slug,
                RevisionBefore: tenant.ConfigRevision, RevisionAfter: revision,
                Details: new { webhookSecretChanged = config.Delivery.Webhook?.Secret is not null }),
            now, ct);
        await ConfigRevisions.NotifyAsync(connection, transaction, revision, ct);
        await transaction.CommitAsync(ct);

        context.Response.Headers.ETag = ETag(revision);
        return TypedResults.Ok(new ConfigResponse(revision, TenantConfigStore.WithoutSecret(config, secret is not null), TenantConfigValidator.Warnings(config)));
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

    private static ProblemHttpResult StaleRevision(string detail) =>
        ProblemResults.Problem(StatusCodes.Status412PreconditionFailed, ErrorCodes.StaleRevision, "Stale revision", detail);
}
