using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Platform.Contracts.Plans;
using Platform.Contracts.Problems;
using Platform.Silo.Audit;
using Platform.Silo.Data;
using Platform.Silo.OpenApi;
using Platform.Silo.Problems;
using Platform.Silo.Security;
using Platform.Silo.Tenants;

namespace Platform.Silo.Plans;

/// <summary>
/// <c>/v1/tenants/{slug}/plan</c>: what a tenant may use. Tenants read their own plan; only operators replace it. A new
/// plan takes a revision, so gateways apply the new effective values (the tenant's configuration capped by the plan) at
/// once, and the MaxConnections leases are granted against follows it in the same transaction.
/// </summary>
internal static partial class PlansApi
{
    private const string LogCategory = "Platform.Silo.Plans";

    public static RouteGroupBuilder MapPlansApi(this RouteGroupBuilder group)
    {
        var plan = group.MapGroup("/tenants/{slug}/plan").WithTags("Plans");
        plan.MapGet("", GetAsync)
            .WithName("GetTenantPlan")
            .WithSummary("Get a tenant's plan and usage")
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.PlanAnswer);
        plan.MapPut("", ReplaceAsync)
            .RequireAuthorization(Claims.OperatorPolicy)
            .WithName("ReplaceTenantPlan")
            .WithSummary("Replace a tenant's plan")
            .WithDescription("Sets the ceilings the tenant's configuration is capped by and the counts its resources must fit. A lower plan never deletes anything: configuration values above it are capped where gateways apply them, and new resources are refused until the tenant is back under the counts.")
            .Problem(StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed)
            .RequestExample(ApiExamples.Plan)
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.PlanAnswer);
        return group;
    }

    private static async Task<Results<Ok<TenantPlanResponse>, ProblemHttpResult>> GetAsync(
        string slug, HttpContext context, NpgsqlDataSource dataSource, PlatformOptions platform)
    {
        var ct = context.RequestAborted;
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var tenant = await TenantAccess.ResolveAsync(connection, context, slug);
        if (tenant is null)
        {
            return TenantsApi.TenantNotFound(slug);
        }

        var plan = await PlanStore.GetAsync(connection, null, tenant.Id, ct);
        var usage = await PlanStore.UsageAsync(connection, null, tenant.Id, platform.Domain, ct);
        return TypedResults.Ok(new TenantPlanResponse(plan, usage));
    }

    private static async Task<Results<Ok<TenantPlanResponse>, ProblemHttpResult>> ReplaceAsync(
        string slug, TenantPlan plan, HttpContext context, NpgsqlDataSource dataSource, PlatformOptions platform, PlatformClock time,
        ILoggerFactory loggers)
    {
        var errors = TenantPlanValidator.Validate(plan);
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
            return TenantsApi.TenantNotFound(slug);
        }

        // Tenant row, then the revision (and with it the commit lock), then everything else: the order
        // every revision writer follows, so that none waits on another while holding the commit lock.
        var revision = await ConfigRevisions.NextAsync(connection, transaction, ct);

        var previous = await PlanStore.GetAsync(connection, transaction, tenant.Id, ct);
        var config = await TenantConfigStore.GetAsync(connection, tenant.Id, tenant.ConfigRevision, ct)
            ?? throw new InvalidOperationException($"Tenant {tenant.Id} has no configuration row for revision {tenant.ConfigRevision}.");
        await PlanStore.UpsertAsync(connection, transaction, tenant.Id, plan, now, ct);
        await TenantConfigStore.StampEffectiveAsync(connection, transaction, tenant.Id, revision,
            EffectiveConfig.MaxConnections(config, plan), now, ct);
        await AuditWriter.WriteAsync(connection, transaction,
            new AuditEntry(context.ActorName(), tenant.Id, tenant.Slug, "plan.replace", tenant.Slug,
                RevisionBefore: tenant.Revision, RevisionAfter: revision, Details: new { from = previous, to = plan }),
            now, ct);
        await ConfigRevisions.NotifyAsync(connection, transaction, revision, ct);
        var usage = await PlanStore.UsageAsync(connection, transaction, tenant.Id, platform.Domain, ct);
        await transaction.CommitAsync(ct);
        var logger = loggers.CreateLogger(LogCategory);
        LogReplaced(logger, tenant.Slug, plan.MaxConnections, revision);
        return TypedResults.Ok(new TenantPlanResponse(plan, usage));
    }

    [LoggerMessage(EventId = 1400, Level = LogLevel.Information,
        Message = "Plan of tenant {Slug} replaced (MaxConnections ceiling {MaxConnections}); revision {Revision}")]
    private static partial void LogReplaced(ILogger logger, string slug, int maxConnections, long revision);
}
