using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Platform.Contracts.Problems;
using Platform.Contracts.Stats;
using Platform.Silo.Api;
using Platform.Silo.OpenApi;
using Platform.Silo.Problems;
using Platform.Silo.Security;
using Platform.Silo.Tenants;

namespace Platform.Silo.Stats;

/// <summary>Connections refused by gateways: every tenant for operators, one tenant for its own keys.</summary>
internal static class RefusalsApi
{
    private static readonly TimeSpan DefaultWindow = TimeSpan.FromHours(1);

    public static RouteGroupBuilder MapRefusalsApi(this RouteGroupBuilder group)
    {
        group.MapGet("/refusals", ListAsync)
            .RequireAuthorization(Claims.OperatorPolicy)
            .WithName("ListRefusals")
            .WithTags("Stats")
            .WithSummary("Refused connections of every tenant")
            .WithDescription("Connections the gateways refused since `since`, totalled per reason and listed per minute, tenant, protocol and reason.")
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.Refusals);
        group.MapGet("/tenants/{slug}/refusals", ListForTenantAsync)
            .WithName("ListTenantRefusals")
            .WithTags("Stats")
            .WithSummary("Refused connections of a tenant")
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.Refusals);
        return group;
    }

    private static async Task<Results<Ok<RefusalReport>, ProblemHttpResult>> ListAsync(
        [FromQuery] string? since, [FromQuery] string? offset, [FromQuery] string? limit,
        HttpContext context, NpgsqlDataSource dataSource, PlatformClock time)
    {
        var errors = new List<FieldError>();
        var from = ParseSince(since, time.GetUtcNow(), errors);
        var (o, l) = Paging.Parse(offset, limit, errors);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        await using var connection = await dataSource.OpenConnectionAsync(context.RequestAborted);
        return TypedResults.Ok(await RefusalStore.ReportAsync(connection, tenantId: null, from, o, l, context.RequestAborted));
    }

    private static async Task<Results<Ok<RefusalReport>, ProblemHttpResult>> ListForTenantAsync(
        string slug, [FromQuery] string? since, [FromQuery] string? offset, [FromQuery] string? limit,
        HttpContext context, NpgsqlDataSource dataSource, PlatformClock time)
    {
        await using var connection = await dataSource.OpenConnectionAsync(context.RequestAborted);
        var tenant = await TenantAccess.ResolveAsync(connection, context, slug);
        if (tenant is null)
        {
            return TenantsApi.TenantNotFound(slug);
        }

        var errors = new List<FieldError>();
        var from = ParseSince(since, time.GetUtcNow(), errors);
        var (o, l) = Paging.Parse(offset, limit, errors);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        return TypedResults.Ok(await RefusalStore.ReportAsync(connection, tenant.Id, from, o, l, context.RequestAborted));
    }

    /// <summary>An ISO 8601 instant with an offset, not in the future; an hour ago when absent. Truncated to its minute.</summary>
    private static DateTimeOffset ParseSince(string? since, DateTimeOffset now, List<FieldError> errors)
    {
        var value = now - DefaultWindow;
        if (since is not null)
        {
            if (!DateTimeOffset.TryParseExact(since, "O", CultureInfo.InvariantCulture, DateTimeStyles.None, out value)
                && !DateTimeOffset.TryParse(since, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out value))
            {
                errors.Add(new FieldError("since", FieldErrorCodes.InvalidFormat, "An ISO 8601 date and time, for example 2026-01-31T12:00:00Z."));
                return now;
            }

            if (value > now)
            {
                errors.Add(new FieldError("since", FieldErrorCodes.OutOfRange, "Must not be in the future."));
                return now;
            }
        }

        var utc = value.ToUniversalTime();
        return new DateTimeOffset(utc.Ticks - (utc.Ticks % TimeSpan.TicksPerMinute), TimeSpan.Zero);
    }
}
