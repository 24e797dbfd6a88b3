using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;
using Platform.Contracts.ApiKeys;
using Platform.Contracts.Problems;
using Platform.Contracts.Tenants;
using Platform.Silo.Api;
using Platform.Silo.Audit;
using Platform.Silo.OpenApi;
using Platform.Silo.Plans;
using Platform.Silo.Problems;
using Platform.Silo.Security;
using Platform.Silo.Tenants;

namespace Platform.Silo.ApiKeys;

/// <summary>
/// <c>/v1/tenants/{slug}/api-keys</c>: keys a tenant's own systems call the REST API with. The
/// secret is returned once, at creation; revocation takes effect on the next request.
/// </summary>
internal static partial class ApiKeysApi
{
    public const int MaxNameLength = 100;
    private const string LogCategory = "Platform.Silo.ApiKeys";

    public static RouteGroupBuilder MapApiKeysApi(this RouteGroupBuilder group)
    {
        var keys = group.MapGroup("/tenants/{slug}/api-keys").WithTags("API keys");
        keys.MapPost("/", CreateAsync)
            .WithName("CreateApiKey")
            .WithSummary("Create an API key")
            .WithDescription("A key for the tenant's own systems. `secret` is the whole bearer token and is shown in this answer only; the silo keeps a hash of it.")
            .Problem(StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed)
            .Problem(StatusCodes.Status409Conflict, ErrorCodes.QuotaExceeded)
            .RequestExample(ApiExamples.CreateApiKey)
            .ResponseExample(StatusCodes.Status201Created, ApiExamples.CreatedApiKey);
        keys.MapGet("/", ListAsync)
            .WithName("ListApiKeys")
            .WithSummary("List a tenant's API keys")
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.ApiKeys);
        keys.MapGet("/{id}", GetAsync)
            .WithName("GetApiKey")
            .WithSummary("Get an API key")
            .ResponseExample(StatusCodes.Status200OK, ApiExamples.ApiKey);
        keys.MapDelete("/{id}", RevokeAsync)
            .WithName("RevokeApiKey")
            .WithSummary("Revoke an API key")
            .WithDescription("The key stops working at once. Revoking a revoked key succeeds again.");
        return group;
    }

    private static async Task<Results<Created<CreatedApiKeyResponse>, ProblemHttpResult>> CreateAsync(
        string slug, CreateApiKeyRequest request, HttpContext context, NpgsqlDataSource dataSource, PlatformClock time,
        ILoggerFactory loggers)
    {
        var name = request.Name?.Trim();
        if (ValidateName(name) is { } invalid)
        {
            return ProblemResults.Validation([invalid]);
        }

        var cancellationToken = context.RequestAborted;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // The tenant row lock serialises key creation per tenant, so the plan's count holds under concurrency.
        var tenant = await TenantAccess.ResolveAsync(connection, context, slug, transaction, forUpdate: true);
        if (tenant is null)
        {
            return ProblemResults.NotFound($"Tenant '{slug}'");
        }

        if (await PlanQuotas.CheckCreateAsync(connection, transaction, tenant.Id, PlanResource.ApiKeys, cancellationToken) is { } exceeded)
        {
            return exceeded;
        }

        var now = time.GetUtcNow();
        // PostgreSQL keeps microseconds; answering with the stored value keeps creation and later reads equal.
        now = now.AddTicks(-(now.Ticks % TimeSpan.TicksPerMicrosecond));
        var (id, key, secret) = ApiKeyFormat.Create();
        var prefix = ApiKeyFormat.DisplayPrefix(id);
        await ApiKeyStore.InsertAsync(connection, transaction, id, tenant.Id, name!, prefix, ApiKeyAuthenticationHandler.Hash(secret), now, cancellationToken);
        await AuditWriter.WriteAsync(connection, transaction, new AuditEntry(
            context.ActorName(), tenant.Id, tenant.Slug, "apikey.create", id.ToString(), Details: new { name, prefix }), now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        var logger = loggers.CreateLogger(LogCategory);
        LogCreated(logger, tenant.Slug, id, prefix);
        return TypedResults.Created($"/v1/tenants/{tenant.Slug}/api-keys/{id}",
            new CreatedApiKeyResponse(new ApiKeyResponse(id, name!, prefix, now, null, null), key));
    }

    private static Task<Results<Ok<Page<ApiKeyResponse>>, ProblemHttpResult>> ListAsync(
        string slug, string? offset, string? limit, HttpContext context, NpgsqlDataSource dataSource) =>
        TenantLists.ListAsync(slug, offset, limit, context, dataSource,
            static (connection, tenant, from, count, ct) => ApiKeyStore.ListAsync(connection, tenant.Id, from, count, ct));

    private static async Task<Results<Ok<ApiKeyResponse>, ProblemHttpResult>> GetAsync(
        string slug, string id, HttpContext context, NpgsqlDataSource dataSource)
    {
        await using var connection = await dataSource.OpenConnectionAsync(context.RequestAborted);
        var tenant = await TenantAccess.ResolveAsync(connection, context, slug);
        if (tenant is null)
        {
            return ProblemResults.NotFound($"Tenant '{slug}'");
        }

        var key = Guid.TryParse(id, out var keyId) ? await ApiKeyStore.GetAsync(connection, null, tenant.Id, keyId, context.RequestAborted) : null;
        return key is null ? ProblemResults.NotFound("The API key") : TypedResults.Ok(key);
    }

    /// <summary>Revoking an already revoked key succeeds without a new audit entry.</summary>
    private static async Task<Results<NoContent, ProblemHttpResult>> RevokeAsync(
        string slug, string id, HttpContext context, NpgsqlDataSource dataSource, PlatformClock time, ILoggerFactory loggers)
    {
        var cancellationToken = context.RequestAborted;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var tenant = await TenantAccess.ResolveAsync(connection, context, slug, transaction);
        if (tenant is null)
        {
            return ProblemResults.NotFound($"Tenant '{slug}'");
        }

        if (!Guid.TryParse(id, out var keyId))
        {
            return ProblemResults.NotFound("The API key");
        }

        var now = time.GetUtcNow();
        if (!await ApiKeyStore.RevokeAsync(connection, transaction, tenant.Id, keyId, now, cancellationToken))
        {
            return await ApiKeyStore.GetAsync(connection, transaction, tenant.Id, keyId, cancellationToken) is null
                ? ProblemResults.NotFound("The API key")
                : TypedResults.NoContent();
        }

        await AuditWriter.WriteAsync(connection, transaction, new AuditEntry(
            context.ActorName(), tenant.Id, tenant.Slug, "apikey.revoke", keyId.ToString()), now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        var logger = loggers.CreateLogger(LogCategory);
        LogRevoked(logger, tenant.Slug, keyId);
        return TypedResults.NoContent();
    }

    internal static FieldError? ValidateName(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return new FieldError("name", FieldErrorCodes.Required, "name is required.");
        }

        if (name.Length > MaxNameLength)
        {
            return new FieldError("name", FieldErrorCodes.TooLong, $"name is at most {MaxNameLength} characters.");
        }

        return name.Any(char.IsControl) ? new FieldError("name", FieldErrorCodes.InvalidFormat, "name may not contain control characters.") : null;
    }

    [LoggerMessage(EventId = 1200, Level = LogLevel.Information, Message = "API key {KeyId} ({Prefix}) created for tenant {Slug}")]
    private static partial void LogCreated(ILogger logger, string slug, Guid keyId, string prefix);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Information, Message = "API key {KeyId} of tenant {Slug} revoked")]
    private static partial void LogRevoked(ILogger logger, string slug, Guid keyId);
}
