using System.Data.Common;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Platform.Contracts.Problems;
using Platform.Contracts.Tenants;
using Platform.Silo.Api;
using Platform.Silo.Audit;
using Platform.Silo.Data;
using Platform.Silo.OpenApi;
using Platform.Silo.Plans;
using Platform.Silo.Problems;
using Platform.Silo.Security;
using Platform.Silo.Tenants.Grains;

namespace Platform.Silo.Tenants;

/// <summary>
/// Listener ports dedicated to one tenant on every gateway (the only way to route plain TCP).
/// Each change bumps the tenant's revision so gateways open or close the listener. How many a tenant
/// may hold is its plan's; a released port cools down before another tenant can get it.
/// </summary>
internal static class PortsApi
{
    public static RouteGroupBuilder MapPortsApi(this RouteGroupBuilder group)
    {
        var ports = group.MapGroup("/tenants/{slug}/ports").WithTags("Dedicated ports");
        ports.MapPost("", AllocateAsync)
            .WithName("AllocateDedicatedPort")
            .WithSummary("Allocate a dedicated port")
            .WithDescription("Reserves the next free port of the operator's range on every gateway for this tenant, serving `tcp`, `tls` or `dtls`.")
            .Problem(StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed)
            .Problem(StatusCodes.Status409Conflict, ErrorCodes.PortsExhausted, ErrorCodes.QuotaExceeded)
            .RequestExample(ApiExamples.AllocatePort)
            .ResponseExample(StatusCodes.Status201Created, ApiExamples.Port);
        ports.MapGet("", ListAsync)
            .WithName("ListDedicatedPorts")
            .WithSummary("List a tenant's dedicated ports")
            .DocumentedBody<Page<DedicatedPortResponse>>(StatusCodes.Status200OK)
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.Ports);
        ports.MapDelete("/{port}", ReleaseAsync)
            .WithName("ReleaseDedicatedPort")
            .WithSummary("Release a dedicated port")
            .WithDescription("Gateways close the port's connections. The port cools down before any other tenant can get it.")
            .Problem(StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed);
        return group;
    }

    private static async Task<Results<Created<DedicatedPortResponse>, ProblemHttpResult>> AllocateAsync(
        string slug, AllocatePortRequest request, HttpContext context, IGrainFactory grains)
    {
        if (await grains.GetVisibleAsync(context, slug) is not { } tenant)
        {
            return TenantsApi.TenantNotFound(slug);
        }

        if (request.Protocol is not (DedicatedPortProtocols.Tcp or DedicatedPortProtocols.Tls or DedicatedPortProtocols.Dtls))
        {
            return ProblemResults.Validation("protocol", FieldErrorCodes.InvalidChoice, "Must be one of: tcp, tls, dtls.");
        }

        var reply = await grains.GetGrain<ITenantGrain>(tenant.Slug).AllocatePortAsync(context.Scope(), request.Protocol, context.ActorName());
        if (reply.Problem is { } problem)
        {
            return problem.ToResult();
        }

        var port = reply.Answer<DedicatedPortResponse>();
        return TypedResults.Created($"/v1/tenants/{tenant.Slug}/ports/{port.Port}", port);
    }

    private static Task<Results<Ok<Page<DedicatedPortResponse>>, ProblemHttpResult>> ListAsync(
        string slug, string? offset, string? limit, HttpContext context, NpgsqlDataSource dataSource) =>
        TenantLists.ListAsync(slug, offset, limit, context, dataSource,
            static (connection, tenant, from, count, ct) => TenantStore.ListPortsAsync(connection, tenant.Id, from, count, ct));

    private static async Task<Results<NoContent, ProblemHttpResult>> ReleaseAsync(string slug, string port, HttpContext context, IGrainFactory grains)
    {
        if (!int.TryParse(port, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number)
            || number is < 1 or > 65535)
        {
            return ProblemResults.Validation("port", FieldErrorCodes.OutOfRange, "A port number from 1 to 65535.");
        }

        if (grains.For(slug) is not { } grain)
        {
            return TenantsApi.TenantNotFound(slug);
        }

        var reply = await grain.ReleasePortAsync(context.Scope(), number, context.ActorName());
        return reply.Problem is { } problem ? problem.ToResult() : TypedResults.NoContent();
    }
}
