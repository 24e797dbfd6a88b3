using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Platform.Contracts.Problems;
using Platform.Contracts.RawKeys;
using Platform.Contracts.Tenants;
using Platform.Silo.Api;
using Platform.Silo.OpenApi;
using Platform.Silo.Problems;
using Platform.Silo.Security;
using Platform.Silo.Tenants;
using Platform.Silo.Tenants.Grains;

namespace Platform.Silo.RawKeys;

/// <summary>
/// <c>/v1/tenants/{slug}/raw-public-keys</c>: the client raw public keys (RFC 7250) a tenant's DTLS devices may
/// authenticate with. Write-once: added, listed by fingerprint, deleted. Gateways need every change, so each one bumps the
/// tenant's revision.
/// </summary>
internal static partial class RawPublicKeysApi
{
    public static RouteGroupBuilder MapRawPublicKeysApi(this RouteGroupBuilder group)
    {
        var keys = group.MapGroup("/tenants/{slug}/raw-public-keys").WithTags("Raw public keys");
        keys.MapPost("/", CreateAsync)
            .WithName("CreateRawPublicKey")
            .WithSummary("Trust a DTLS client raw public key")
            .WithDescription("A PEM `PUBLIC KEY` block or base64 DER SubjectPublicKeyInfo: EC P-256 or P-384, Ed25519, or RSA of 2048 to 8192 bits. A private key is refused (`private_key_refused`) and never stored. Keys are write-once; the answer carries the key's SHA-256 fingerprint.")
            .Problem(StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed, ErrorCodes.RawPublicKeyInvalid, ErrorCodes.RawPublicKeyNotAllowed, ErrorCodes.PrivateKeyRefused)
            .Problem(StatusCodes.Status409Conflict, ErrorCodes.RawPublicKeyTaken, ErrorCodes.QuotaExceeded)
            .RequestExample(ApiExamples.CreateRawPublicKey)
            .ResponseExample(StatusCodes.Status201Created, ApiExamples.RawPublicKey);
        keys.MapGet("/", ListAsync)
            .WithName("ListRawPublicKeys")
            .WithSummary("List a tenant's raw public keys")
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.RawPublicKeys);
        keys.MapGet("/{id}", GetAsync)
            .WithName("GetRawPublicKey")
            .WithSummary("Get a raw public key by id or fingerprint")
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.RawPublicKey);
        keys.MapDelete("/{id}", DeleteAsync)
            .WithName("DeleteRawPublicKey")
            .WithSummary("Delete a raw public key by id or fingerprint")
            .WithDescription("New handshakes with it fail; sessions already established are not closed.");
        return group;
    }

    private static async Task<Results<Created<RawPublicKeyResponse>, ProblemHttpResult>> CreateAsync(
        string slug, CreateRawPublicKeyRequest request, HttpContext context, IGrainFactory grains, ILoggerFactory loggers)
    {
        var errors = new List<FieldError>();
        if (string.IsNullOrWhiteSpace(request.Key))
        {
            errors.Add(new FieldError("key", FieldErrorCodes.Required, "key is required: a PEM PUBLIC KEY block or base64 DER SubjectPublicKeyInfo."));
        }

        if (RawPublicKeyParser.ValidateName(request.Name) is { } nameError)
        {
            errors.Add(nameError);
        }

        if (errors.Count > 0)
        {
            return ProblemResults.Validation(errors);
        }

        var (key, rejection) = RawPublicKeyParser.Parse(request.Key);
        if (rejection is not null)
        {
            return Rejected(rejection);
        }

        if (grains.For(slug) is not { } grain)
        {
            return TenantsApi.TenantNotFound(slug);
        }

        var id = Guid.NewGuid();
        var reply = await grain.CreateRawPublicKeyAsync(context.Scope(), id, request.Name, key!, context.ActorName());
        if (reply.Problem is { } problem)
        {
            return problem.ToResult();
        }

        var response = reply.Answer<RawPublicKeyResponse>();
        var logger = Logger(loggers);
        LogCreated(logger, slug, response.Fingerprint, response.Algorithm, reply.Tenant!.Row.Revision);
        return TypedResults.Created($"/v1/tenants/{slug}/raw-public-keys/{id}", response);
    }

    private static Task<Results<Ok<Page<RawPublicKeyResponse>>, ProblemHttpResult>> ListAsync(
        string slug, string? offset, string? limit, HttpContext context, NpgsqlDataSource dataSource) =>
        TenantLists.ListAsync(slug, offset, limit, context, dataSource, static (connection, tenant, from, count, ct) =>
            RawPublicKeyStore.ListAsync(connection, tenant.Id, from, count, ct));

    private static async Task<Results<Ok<RawPublicKeyResponse>, ProblemHttpResult>> GetAsync(
        string slug, string id, HttpContext context, NpgsqlDataSource dataSource)
    {
        await using var connection = await dataSource.OpenConnectionAsync(context.RequestAborted);
        var tenant = await TenantAccess.ResolveAsync(connection, context, slug);
        if (tenant is null)
        {
            return ProblemResults.NotFound($"Tenant '{slug}'");
        }

        var row = RawPublicKeyRef.Parse(id) is { } key ? await RawPublicKeyStore.GetAsync(connection, tenant.Id, key, context.RequestAborted) : null;
        return row is null ? ProblemResults.NotFound("The raw public key") : TypedResults.Ok(row);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        string slug, string id, HttpContext context, IGrainFactory grains, ILoggerFactory loggers)
    {
        if (grains.For(slug) is not { } grain)
        {
            return TenantsApi.TenantNotFound(slug);
        }

        var reply = await grain.DeleteRawPublicKeyAsync(context.Scope(), RawPublicKeyRef.Parse(id), context.ActorName());
        if (reply.Problem is { } problem)
        {
            return problem.ToResult();
        }

        var deleted = reply.Answer<RawPublicKeyResponse>();
        var logger = Logger(loggers);
        LogDeleted(logger, slug, deleted.Fingerprint, reply.Tenant!.Row.Revision);
        return TypedResults.NoContent();
    }

    private static ILogger Logger(ILoggerFactory loggers) => loggers.CreateLogger(typeof(RawPublicKeysApi).FullName!);

    private static ProblemHttpResult Rejected(RawPublicKeyRejection rejection)
    {
        var title = rejection.Code switch
        {
            ErrorCodes.PrivateKeyRefused => "Private key refused",
            ErrorCodes.RawPublicKeyNotAllowed => "Raw public key type or size not allowed",
            _ => "Raw public key invalid",
        };
        return ProblemResults.Problem(StatusCodes.Status400BadRequest, rejection.Code, title, rejection.Detail,
            [new FieldError("key", rejection.FieldCode, rejection.Detail)]);
    }

    [LoggerMessage(EventId = 1310, Level = LogLevel.Information, Message = "Raw public key {Fingerprint} ({Algorithm}) added to tenant {Slug}; revision {Revision}")]
    private static partial void LogCreated(ILogger logger, string slug, string fingerprint, string algorithm, long revision);

    [LoggerMessage(EventId = 1311, Level = LogLevel.Information, Message = "Raw public key {Fingerprint} deleted from tenant {Slug}; revision {Revision}")]
    private static partial void LogDeleted(ILogger logger, string slug, string fingerprint, long revision);
}
