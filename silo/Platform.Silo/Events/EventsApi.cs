using System.Globalization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Platform.Contracts.Events;
using Platform.Contracts.Problems;
using Platform.Silo.Api;
using Platform.Silo.OpenApi;
using Platform.Silo.Problems;
using Platform.Silo.Tenants;

namespace Platform.Silo.Events;

/// <summary>A tenant's lifecycle events, for reconciling after its webhook was down.</summary>
internal static class EventsApi
{
    public static RouteGroupBuilder MapEventsApi(this RouteGroupBuilder group)
    {
        group.MapGet("/tenants/{slug}/events", ListAsync)
            .WithName("ListEvents")
            .WithTags("Events")
            .WithSummary("List a tenant's lifecycle events")
            .WithDescription("Connected and disconnected events with a sequence number above `after`, oldest first, each with its webhook delivery state. Events are kept for the retention window (7 days, at most 100,000 per tenant by default).")
            .Problem(StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed)
            .ResponseExample(StatusCodes.Status200OK, EventExamples.Page);
        return group;
    }

    private static async Task<Results<Ok<EventPage>, ProblemHttpResult>> ListAsync(
        string slug, [FromQuery] string? after, [FromQuery] string? limit, HttpContext context, NpgsqlDataSource dataSource)
    {
        var errors = new List<FieldError>();
        long from = 0;
        if (after is not null && (!long.TryParse(after, NumberStyles.None, CultureInfo.InvariantCulture, out from) || from < 0))
        {
            errors.Add(new FieldError("after", FieldErrorCodes.OutOfRange, $"An integer from 0 to {long.MaxValue}."));
        }

        var (_, count) = Paging.Parse(null, limit, errors);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        await using var connection = await dataSource.OpenConnectionAsync(context.RequestAborted);
        var tenant = await TenantAccess.ResolveAsync(connection, context, slug);
        if (tenant is null)
        {
            return ProblemResults.NotFound($"Tenant '{slug}'");
        }

        return TypedResults.Ok(await EventStore.ListAsync(connection, tenant.Id, tenant.Slug, from, count, context.RequestAborted));
    }
}
