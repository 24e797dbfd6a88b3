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
using Platform.Silo.Tenants.Grains;

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
        string slug, CreatePskIdentityRequest request, HttpContext context, IGrainFactory grains, PskStore store,
        ILogger<PskStore> logger)
    {
        var errors = PskRequestValidator.Validate(request, out var key);
        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        byte[] keyEnc;
        var id = Guid.NewGuid();
        try
        {
            // Encrypted here, bound to the new identity's id: only the ciphertext travels to the grain.
            keyEnc = store.Seal(key!, id);
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(key);
        }

        if (grains.For(slug) is not { } grain)
        {
            return TenantsApi.TenantNotFound(slug);
        }

        var reply = await grain.CreatePskAsync(context.Scope(), id, request.Identity, keyEnc, context.ActorName());
        if (reply.Problem is { } problem)
        {
            return problem.ToResult();
        }

        var response = reply.Answer<PskIdentityResponse>();
        LogCreated(logger, slug, request.Identity, reply.Tenant!.Row.Revision);
        return TypedResults.Created($"/v1/tenants/{slug}/psk-identities/{id}", response);
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
        string slug, string id, HttpContext context, IGrainFactory grains, ILogger<PskStore> logger)
    {
        if (grains.For(slug) is not { } grain)
        {
            return TenantsApi.TenantNotFound(slug);
        }

        var reply = await grain.DeletePskAsync(context.Scope(), Guid.TryParse(id, out var identityId) ? identityId : null, context.ActorName());
        if (reply.Problem is { } problem)
        {
            return problem.ToResult();
        }

        var deleted = reply.Answer<PskIdentityResponse>();
        LogDeleted(logger, slug, deleted.Identity, reply.Tenant!.Row.Revision);
        return TypedResults.NoContent();
    }

    [LoggerMessage(EventId = 1300, Level = LogLevel.Information, Message = "PSK identity {Identity} created for tenant {Slug}; revision {Revision}")]
    private static partial void LogCreated(ILogger logger, string slug, string identity, long revision);

    [LoggerMessage(EventId = 1301, Level = LogLevel.Information, Message = "PSK identity {Identity} deleted from tenant {Slug}; revision {Revision}")]
    private static partial void LogDeleted(ILogger logger, string slug, string identity, long revision);
}
