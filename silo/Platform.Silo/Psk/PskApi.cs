using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Platform.Contracts.Problems;
using Platform.Contracts.Psk;
using Platform.Contracts.Tenants;
using Platform.Silo.Api;
using Platform.Silo.Audit;
using Platform.Silo.Data;
using Platform.Silo.OpenApi;
using Platform.Silo.Plans;
using Platform.Silo.Problems;
using Platform.Silo.Security;
using Platform.Silo.Tenants;

namespace Platform.Silo.Psk;

/// <summary>
/// <c>/v1/tenants/{slug}/psk-identities</c>: DTLS pre-shared keys. Clients present <c>{slug}/{identity}</c>;
/// the key is write-only. Gateways need every change, so each one bumps the tenant's revision.
/// </summary>
internal static partial class PskApi
{
    public static RouteGroupBuilder MapPskApi(this RouteGroupBuilder group)
    {
        var identities = group.MapGroup("/tenants/{slug}/psk-identities").WithTags("PSK identities");
        identities.MapPost("/", CreateAsync)
            .WithName("CreatePskIdentity")
            .WithSummary("Create a DTLS PSK identity")
            .WithDescription("A pre-shared key DTLS clients of this tenant may use. Clients send `fullIdentity` (`{slug}/{identity}`). The key is hex, encrypted at rest and never returned.")
            .Problem(StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed)
            .Problem(StatusCodes.Status409Conflict, ErrorCodes.PskIdentityTaken, ErrorCodes.QuotaExceeded)
            .RequestExample(ApiExamples.CreatePskIdentity)
            .ResponseExample(StatusCodes.Status201Created, ApiExamples.PskIdentity);
        identities.MapGet("/", ListAsync)
            .WithName("ListPskIdentities")
            .WithSummary("List a tenant's PSK identities")
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.PskIdentities);
        identities.MapGet("/{id}", GetAsync)
            .WithName("GetPskIdentity")
            .WithSummary("Get a PSK identity")
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.PskIdentity);
        identities.MapDelete("/{id}", DeleteAsync)
            .WithName("DeletePskIdentity")
            .WithSummary("Delete a PSK identity")
            .WithDescription("New handshakes with it fail; sessions already established are not closed.");
        return group;
    }

    private static async Task<Results<Created<PskIdentityResponse>, ProblemHttpResult>> CreateAsync(
        string slug, CreatePskIdentityRequest request, HttpContext context, NpgsqlDataSource dataSource, PskStore store,
        PlatformClock time, ILogger<PskStore> logger)
    {
        var errors = PskRequestValidator.Validate(request, out var key);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        var cancellationToken = context.RequestAborted;
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            var tenant = await TenantAccess.ResolveAsync(connection, context, slug, transaction, forUpdate: true);
            if (tenant is null)
            {
                return ProblemResults.NotFound($"Tenant '{slug}'");
            }

            if (await PlanQuotas.CheckCreateAsync(connection, transaction, tenant.Id, PlanResource.PskIdentities, cancellationToken) is { } exceeded)
            {
                return exceeded;
            }

            var now = time.GetUtcNow();
            // PostgreSQL keeps microseconds; answering with the stored value keeps creation and later reads equal.
            now = now.AddTicks(-(now.Ticks % TimeSpan.TicksPerMicrosecond));
            var id = Guid.NewGuid();
            if (!await store.InsertAsync(connection, transaction, id, tenant.Id, request.Identity, key!, now, cancellationToken))
            {
                return ProblemResults.Conflict(ErrorCodes.PskIdentityTaken,
                    $"The tenant already has a PSK identity '{request.Identity}'.", "identity");
            }

            var revision = await ConfigRevisions.BumpTenantAsync(connection, transaction, tenant.Id, now, cancellationToken);
            await AuditWriter.WriteAsync(connection, transaction, new AuditEntry(
                context.ActorName(), tenant.Id, tenant.Slug, "psk.create", id.ToString(), tenant.Revision, revision,
                new { identity = request.Identity }), now, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            LogCreated(logger, tenant.Slug, request.Identity, revision);
            var response = new PskIdentityResponse(id, request.Identity, $"{tenant.Slug}/{request.Identity}", now);
            return TypedResults.Created($"/v1/tenants/{tenant.Slug}/psk-identities/{id}", response);
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(key);
        }
    }

    private static Task<Results<Ok<Page<PskIdentityResponse>>, ProblemHttpResult>> ListAsync(
        string slug, string? offset, string? limit, HttpContext context, NpgsqlDataSource dataSource) =>
        TenantLists.ListAsync(slug, offset, limit, context, dataSource, static async (connection, tenant, from, count, ct) =>
        {
            var (rows, total) = await PskStore.ListAsync(connection, tenant.Id, from, count, ct);
            return ((IReadOnlyList<PskIdentityResponse>)rows.Select(r => r.ToResponse(tenant.Slug)).ToList(), total);
        });

    private static async Task<Results<Ok<PskIdentityResponse>, ProblemHttpResult>> GetAsync(
        string slug, string id, HttpContext context, NpgsqlDataSource dataSource)
    {
        await using var connection = await dataSource.OpenConnectionAsync(context.RequestAborted);
        var tenant = await TenantAccess.ResolveAsync(connection, context, slug);
        if (tenant is null)
        {
            return ProblemResults.NotFound($"Tenant '{slug}'");
        }

        var row = Guid.TryParse(id, out var identityId) ? await PskStore.GetAsync(connection, tenant.Id, identityId, context.RequestAborted) : null;
        return row is null ? ProblemResults.NotFound("The PSK identity") : TypedResults.Ok(row.ToResponse(tenant.Slug));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        string slug, string id, HttpContext context, NpgsqlDataSource dataSource, PlatformClock time, ILogger<PskStore> logger)
    {
        var cancellationToken = context.RequestAborted;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var tenant = await TenantAccess.ResolveAsync(connection, context, slug, transaction, forUpdate: true);
        if (tenant is null)
        {
            return ProblemResults.NotFound($"Tenant '{slug}'");
        }

        var deleted = Guid.TryParse(id, out var identityId)
            ? await PskStore.DeleteAsync(connection, transaction, tenant.Id, identityId, cancellationToken)
            : null;
        if (deleted is null)
        {
            return ProblemResults.NotFound("The PSK identity");
        }

        var now = time.GetUtcNow();
        var revision = await ConfigRevisions.BumpTenantAsync(connection, transaction, tenant.Id, now, cancellationToken);
        await AuditWriter.WriteAsync(connection, transaction, new AuditEntry(
            context.ActorName(), tenant.Id, tenant.Slug, "psk.delete", deleted.Id.ToString(), tenant.Revision, revision,
            new { identity = deleted.Identity }), now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        LogDeleted(logger, tenant.Slug, deleted.Identity, revision);
        return TypedResults.NoContent();
    }

    [LoggerMessage(EventId = 1300, Level = LogLevel.Information, Message = "PSK identity {Identity} created for tenant {Slug}; revision {Revision}")]
    private static partial void LogCreated(ILogger logger, string slug, string identity, long revision);

    [LoggerMessage(EventId = 1301, Level = LogLevel.Information, Message = "PSK identity {Identity} deleted from tenant {Slug}; revision {Revision}")]
    private static partial void LogDeleted(ILogger logger, string slug, string identity, long revision);
}
