using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Platform.Contracts;
using Platform.Contracts.Plans;
using Platform.Contracts.Problems;
using Platform.Silo.Audit;
using Platform.Silo.Data;
using Platform.Silo.OpenApi;
using Platform.Silo.Problems;
using Platform.Silo.Security;
using Platform.Silo.Tenants;
using Platform.Silo.Tenants.Grains;

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
        string slug, TenantPlan plan, HttpContext context, IGrainFactory grains, ILoggerFactory loggers)
    {
        var errors = TenantPlanValidator.Validate(plan);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        if (grains.For(slug) is not { } grain)
        {
            return TenantsApi.TenantNotFound(slug);
        }

        var reply = await grain.ReplacePlanAsync(context.Scope(), JsonSerializer.Serialize(plan, PlatformJson.Options), context.ActorName());
        if (reply.Problem is { } problem)
        {
            return problem.ToResult();
        }

        var logger = loggers.CreateLogger(LogCategory);
        LogReplaced(logger, slug, plan.MaxConnections, reply.Tenant!.Row.Revision);
        return TypedResults.Ok(reply.Answer<TenantPlanResponse>());
    }

    [LoggerMessage(EventId = 1400, Level = LogLevel.Information,
        Message = "Plan of tenant {Slug} replaced (MaxConnections ceiling {MaxConnections}); revision {Revision}")]
    private static partial void LogReplaced(ILogger logger, string slug, int maxConnections, long revision);
}
