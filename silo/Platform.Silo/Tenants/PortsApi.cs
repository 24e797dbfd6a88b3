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
        string slug, AllocatePortRequest request, HttpContext context, NpgsqlDataSource dataSource, PlatformOptions platform, PlatformClock time)
    {
        var ct = context.RequestAborted;
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        if (await TenantAccess.ResolveAsync(connection, context, slug) is null)
        {
            return TenantsApi.TenantNotFound(slug);
        }

        if (request.Protocol is not (DedicatedPortProtocols.Tcp or DedicatedPortProtocols.Tls or DedicatedPortProtocols.Dtls))
        {
            return ProblemResults.Validation("protocol", FieldErrorCodes.InvalidChoice, "Must be one of: tcp, tls, dtls.");
        }

        var now = time.GetUtcNow();
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var tenant = await TenantAccess.ResolveAsync(connection, context, slug, transaction, forUpdate: true);
        if (tenant is null)
        {
            return TenantsApi.TenantNotFound(slug);
        }

        // Tenant row, then the revision (and with it the commit lock), then everything else: the order
        // every revision writer follows, so that none waits on another while holding the commit lock.
        var revision = await ConfigRevisions.NextAsync(connection, transaction, ct);

        if (await PlanQuotas.CheckCreateAsync(connection, transaction, tenant.Id, PlanResource.DedicatedPorts, ct) is { } exceeded)
        {
            return exceeded;
        }

        var port = await TryAllocateAsync(connection, transaction, tenant.Id, request.Protocol, platform.DedicatedPortFirst, platform.DedicatedPortLast,
            now, TimeSpan.FromHours(platform.PortCooldownHours), ct);
        if (port is null)
        {
            return ProblemResults.Conflict(ErrorCodes.PortsExhausted,
                $"Every dedicated port from {platform.DedicatedPortFirst} to {platform.DedicatedPortLast} is allocated or cooling down after another tenant released it.");
        }

        await TenantStore.StampRevisionAsync(connection, transaction, tenant.Id, revision, now, ct);
        await AuditWriter.WriteAsync(connection, transaction,
            new AuditEntry(context.ActorName(), tenant.Id, tenant.Slug, "port.allocate", port.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
                RevisionBefore: tenant.Revision, RevisionAfter: revision, Details: new { request.Protocol }),
            now, ct);
        await transaction.CommitAsync(ct);
        return TypedResults.Created($"/v1/tenants/{tenant.Slug}/ports/{port.Value}", new DedicatedPortResponse(port.Value, request.Protocol, now));
    }

    private static Task<Results<Ok<Page<DedicatedPortResponse>>, ProblemHttpResult>> ListAsync(
        string slug, string? offset, string? limit, HttpContext context, NpgsqlDataSource dataSource) =>
        TenantLists.ListAsync(slug, offset, limit, context, dataSource,
            static (connection, tenant, from, count, ct) => TenantStore.ListPortsAsync(connection, tenant.Id, from, count, ct));

    private static async Task<Results<NoContent, ProblemHttpResult>> ReleaseAsync(
        string slug, string port, HttpContext context, NpgsqlDataSource dataSource, PlatformClock time)
    {
        if (!int.TryParse(port, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number)
            || number is < 1 or > 65535)
        {
            return ProblemResults.Validation("port", FieldErrorCodes.OutOfRange, "A port number from 1 to 65535.");
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

        var protocol = await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
            "DELETE FROM dedicated_ports WHERE tenant_id = @tenantId AND port = @port RETURNING protocol",
            new { tenantId = tenant.Id, port = number }, transaction, cancellationToken: ct));
        if (protocol is null)
        {
            return ProblemResults.NotFound($"Dedicated port {number} of tenant '{tenant.Slug}'");
        }

        await PortCooldowns.ReleaseAsync(connection, transaction, tenant.Id, number, now, ct);
        await TenantStore.StampRevisionAsync(connection, transaction, tenant.Id, revision, now, ct);
        await AuditWriter.WriteAsync(connection, transaction,
            new AuditEntry(context.ActorName(), tenant.Id, tenant.Slug, "port.release", number.ToString(System.Globalization.CultureInfo.InvariantCulture),
                RevisionBefore: tenant.Revision, RevisionAfter: revision, Details: new { protocol }),
            now, ct);
        await transaction.CommitAsync(ct);
        return TypedResults.NoContent();
    }

    /// <summary>
    /// Claims the lowest free port that is not cooling down after another tenant released it (the
    /// release and its cool-down row commit together, so no statement sees the one without the other).
    /// ON CONFLICT DO NOTHING makes a port taken concurrently by another tenant's allocation come back
    /// empty instead of aborting the transaction; the next attempt (a new statement, so a new snapshot)
    /// then sees that port as taken and moves on.
    /// </summary>
    private static async Task<int?> TryAllocateAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, string protocol, int first, int last,
        DateTimeOffset now, TimeSpan cooldown, CancellationToken cancellationToken)
    {
        var coolingSince = now - cooldown;
        for (var attempt = 0; attempt <= last - first; attempt++)
        {
            var free = await connection.QuerySingleOrDefaultAsync<int?>(new CommandDefinition(
                """
                SELECT p FROM generate_series(@first, @last) AS p
                WHERE NOT EXISTS (SELECT 1 FROM dedicated_ports d WHERE d.port = p)
                  AND NOT EXISTS (SELECT 1 FROM port_cooldowns c
                                  WHERE c.port = p AND c.tenant_id <> @tenantId AND c.released_at > @coolingSince)
                ORDER BY p LIMIT 1
                """,
                new { first, last, tenantId, coolingSince }, transaction, cancellationToken: cancellationToken));
            if (free is null)
            {
                return null;
            }

            var claimed = await connection.QuerySingleOrDefaultAsync<int?>(new CommandDefinition(
                """
                INSERT INTO dedicated_ports (port, tenant_id, protocol, created_at)
                VALUES (@port, @tenantId, @protocol, @now)
                ON CONFLICT (port) DO NOTHING
                RETURNING port
                """,
                new { port = free.Value, tenantId, protocol, now }, transaction, cancellationToken: cancellationToken));
            if (claimed is not null)
            {
                return claimed;
            }
        }

        return null;
    }
}
