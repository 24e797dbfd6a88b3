using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Platform.Contracts.Problems;
using Platform.Contracts.Usage;
using Platform.Contracts.Webhooks;
using Platform.Silo.OpenApi;
using Platform.Silo.Problems;
using Platform.Silo.Tenants;
using Platform.Silo.Usage;

namespace Platform.Silo.Webhooks;

/// <summary>How the gateways' webhook requests of a tenant went: validation, counts per failure kind, the last failure.</summary>
internal static class WebhookStatusApi
{
    public static RouteGroupBuilder MapWebhookStatusApi(this RouteGroupBuilder group)
    {
        group.MapGet("/tenants/{slug}/webhook-status", GetAsync)
            .WithName("GetWebhookStatus")
            .WithTags("Events")
            .WithSummary("How the gateways' webhook requests of a tenant went")
            .WithDescription(
                "For `webhook` delivery: whether the current URL passed the validation handshake, the connect and messages "
                + "requests delivered and failed per UTC hour starting from `from` (truncated to its hour) up to `to` "
                + $"(the last 24 hours by default, at most {UsageApi.MaxRangeDays} days), the failures per kind, and the newest failure. "
                + "Gateways report every few seconds, so the figures trail by that much.")
            .Problem(StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed)
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.WebhookStatus);
        return group;
    }

    private static async Task<Results<Ok<WebhookStatusResponse>, ProblemHttpResult>> GetAsync(
        string slug, [FromQuery] string? from, [FromQuery] string? to, HttpContext context, NpgsqlDataSource dataSource, PlatformClock time)
    {
        await using var connection = await dataSource.OpenConnectionAsync(context.RequestAborted);
        var tenant = await TenantAccess.ResolveAsync(connection, context, slug);
        if (tenant is null)
        {
            return TenantsApi.TenantNotFound(slug);
        }

        var errors = new List<FieldError>();
        var now = time.GetUtcNow();
        var range = UsageApi.ParseRange(from, to, now, UsageGranularities.Hour, errors);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        return TypedResults.Ok(await WebhookStatusStore.ReadAsync(connection, tenant.Id, tenant.Slug, range.From, range.To, now, context.RequestAborted));
    }
}
