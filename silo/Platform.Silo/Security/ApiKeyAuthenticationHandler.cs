using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Dapper;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Platform.Silo.Security;

/// <summary>
/// Bearer API keys: the operator key from configuration, or a tenant key <c>tk_{id}_{secret}</c>
/// whose SHA-256 is stored. Keys are 256-bit random, so a plain SHA-256 resists guessing; the
/// comparison is constant-time.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    NpgsqlDataSource dataSource,
    PlatformOptions platform,
    PlatformClock time)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    public const string SchemeName = "ApiKey";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            return AuthenticateResult.NoResult();
        }

        var key = header["Bearer ".Length..].Trim();
        if (CryptographicOperations.FixedTimeEquals(Hash(key), Hash(platform.OperatorKey)))
        {
            return Success(new Claim(Claims.Role, Claims.OperatorRole), new Claim(Claims.Actor, "operator"));
        }

        if (!ApiKeyFormat.TryParse(key, out var keyId, out var secret))
        {
            return AuthenticateResult.Fail("Unknown key.");
        }

        await using var connection = await dataSource.OpenConnectionAsync(Context.RequestAborted);
        var row = await connection.QuerySingleOrDefaultAsync<KeyRow>(new CommandDefinition(
            """
            SELECT k.tenant_id AS TenantId, k.secret_hash AS SecretHash, k.last_used_at AS LastUsedAt
            FROM api_keys k
            WHERE k.id = @keyId AND k.revoked_at IS NULL
            """, new { keyId }, cancellationToken: Context.RequestAborted));
        if (row is null || !CryptographicOperations.FixedTimeEquals(Hash(secret), row.SecretHash))
        {
            return AuthenticateResult.Fail("Unknown key.");
        }

        var now = time.GetUtcNow();
        // Recording use at most once a minute keeps authentication from writing on every request.
        if (row.LastUsedAt is null || now.UtcDateTime - row.LastUsedAt.Value > TimeSpan.FromMinutes(1))
        {
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE api_keys SET last_used_at = @now WHERE id = @keyId AND tenant_id = @TenantId",
                new { now, keyId, row.TenantId }, cancellationToken: Context.RequestAborted));
        }

        return Success(
            new Claim(Claims.Role, Claims.TenantRole),
            new Claim(Claims.TenantId, row.TenantId.ToString()),
            new Claim(Claims.Actor, $"api-key:{keyId}"));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        await Problems.ProblemResults.Write(Context, StatusCodes.Status401Unauthorized, Platform.Contracts.Problems.ErrorCodes.Unauthenticated,
            "Authentication required", "Send an API key as 'Authorization: Bearer <key>'.");
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        await Problems.ProblemResults.Write(Context, StatusCodes.Status403Forbidden, Platform.Contracts.Problems.ErrorCodes.Forbidden,
            "Forbidden", "This key cannot use this endpoint.");

    internal static byte[] Hash(string value) => SHA256.HashData(Encoding.UTF8.GetBytes(value));

    private static AuthenticateResult Success(params Claim[] claims) =>
        AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName)), SchemeName));

    // Npgsql reads timestamptz as a UTC DateTime; Dapper cannot bind that to a DateTimeOffset constructor parameter.
    private sealed record KeyRow(Guid TenantId, byte[] SecretHash, DateTime? LastUsedAt);
}
