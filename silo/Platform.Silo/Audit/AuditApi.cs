using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using Platform.Contracts.Audit;
using Platform.Contracts.Problems;
using Platform.Contracts.Tenants;
using Platform.Silo.Api;
using Platform.Silo.OpenApi;
using Platform.Silo.Problems;
using Platform.Silo.Security;
using Platform.Silo.Tenants;

namespace Platform.Silo.Audit;

/// <summary>The audit log, newest first: every tenant for operators, one tenant for its own keys.</summary>
internal static class AuditApi
{
    public static RouteGroupBuilder MapAuditApi(this RouteGroupBuilder group)
    {
        group.MapGet("/audit", ListAsync)
            .RequireAuthorization(Claims.OperatorPolicy)
            .WithName("ListAuditEntries")
            .WithTags("Audit")
            .WithSummary("The audit log of every tenant")
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.AuditEntries);
        group.MapGet("/tenants/{slug}/audit", ListForTenantAsync)
            .WithName("ListTenantAuditEntries")
            .WithTags("Audit")
            .WithSummary("A tenant's audit log")
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.AuditEntries);
        return group;
    }

    private static async Task<Results<Ok<Page<AuditEntryResponse>>, ProblemHttpResult>> ListAsync(
        [FromQuery] string? tenant, [FromQuery] string? actor, [FromQuery] string? offset, [FromQuery] string? limit,
        HttpContext context, NpgsqlDataSource dataSource)
    {
        var errors = new List<FieldError>();
        var (o, l) = Paging.Parse(offset, limit, errors);
        var tenantSlug = Paging.Filter("tenant", tenant, errors);
        var actorName = Paging.Filter("actor", actor, errors);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        await using var connection = await dataSource.OpenConnectionAsync(context.RequestAborted);
        return TypedResults.Ok(await QueryAsync(connection, tenantId: null, tenantSlug, actorName, o, l, context.RequestAborted));
    }

    private static async Task<Results<Ok<Page<AuditEntryResponse>>, ProblemHttpResult>> ListForTenantAsync(
        string slug, [FromQuery] string? actor, [FromQuery] string? offset, [FromQuery] string? limit,
        HttpContext context, NpgsqlDataSource dataSource)
    {
        await using var connection = await dataSource.OpenConnectionAsync(context.RequestAborted);
        var tenant = await TenantAccess.ResolveAsync(connection, context, slug);
        if (tenant is null)
        {
            return TenantsApi.TenantNotFound(slug);
        }

        var errors = new List<FieldError>();
        var (o, l) = Paging.Parse(offset, limit, errors);
        var actorName = Paging.Filter("actor", actor, errors);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        // By id, not slug: entries of an earlier tenant that had the same slug are not this tenant's.
        return TypedResults.Ok(await QueryAsync(connection, tenant.Id, tenantSlug: null, actorName, o, l, context.RequestAborted));
    }

    private static async Task<Page<AuditEntryResponse>> QueryAsync(
        NpgsqlConnection connection, Guid? tenantId, string? tenantSlug, string? actor, int offset, int limit, CancellationToken cancellationToken)
    {
        const string filter = """
            WHERE (@tenantId::uuid IS NULL OR tenant_id = @tenantId)
              AND (@tenantSlug::text IS NULL OR tenant_slug = @tenantSlug)
              AND (@actor::text IS NULL OR actor = @actor)
            """;
        var parameters = new { tenantId, tenantSlug, actor, offset, limit };
        var total = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            $"SELECT count(*) FROM audit_log {filter}", parameters, cancellationToken: cancellationToken));
        var rows = await connection.QueryAsync<AuditRow>(new CommandDefinition(
            $"""
            SELECT id AS Id, at AS At, actor AS Actor, tenant_slug AS TenantSlug, action AS Action, target AS Target,
                   revision_before AS RevisionBefore, revision_after AS RevisionAfter, details::text AS Details
            FROM audit_log
            {filter}
            ORDER BY id DESC
            OFFSET @offset LIMIT @limit
            """,
            parameters, cancellationToken: cancellationToken));
        var items = rows.Select(r => new AuditEntryResponse(
            r.Id, TenantStore.Utc(r.At), r.Actor, r.TenantSlug, r.Action, r.Target, r.RevisionBefore, r.RevisionAfter, r.Details)).ToList();
        return new Page<AuditEntryResponse>(items, total, offset, limit);
    }

    private sealed class AuditRow
    {
        public long Id { get; init; }
        public DateTime At { get; init; }
        public string Actor { get; init; } = "";
        public string? TenantSlug { get; init; }
        public string Action { get; init; } = "";
        public string? Target { get; init; }
        public long? RevisionBefore { get; init; }
        public long? RevisionAfter { get; init; }
        public string? Details { get; init; }
    }
}
