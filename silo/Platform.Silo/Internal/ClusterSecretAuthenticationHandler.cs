using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using Platform.Contracts.Problems;
using Platform.Silo.Problems;
using Platform.Silo.Security;

namespace Platform.Silo.Internal;

/// <summary>
/// Authenticates gateways on the internal API by the shared cluster secret. It is a scheme of its own,
/// used only by the internal routes' policy: the public "ApiKey" scheme never accepts the cluster secret
/// and this scheme never accepts an API key, so neither credential crosses over.
/// </summary>
internal sealed class ClusterSecretAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    PlatformOptions platform)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    public const string SchemeName = "ClusterSecret";
    public const string GatewayRole = "gateway";

    /// <summary>The policy of every internal route.</summary>
    public static AuthorizationPolicy Policy { get; } = new AuthorizationPolicyBuilder(SchemeName)
        .RequireClaim(Claims.Role, GatewayRole)
        .Build();

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var presented = header["Bearer ".Length..].Trim();
        // Hashing both sides first makes the comparison constant-time regardless of the lengths.
        if (!CryptographicOperations.FixedTimeEquals(Hash(presented), Hash(platform.ClusterSecret)))
        {
            return Task.FromResult(AuthenticateResult.Fail("Wrong cluster secret."));
        }

        var identity = new ClaimsIdentity([new Claim(Claims.Role, GatewayRole), new Claim(Claims.Actor, "gateway")], SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer";
        await ProblemResults.Write(Context, StatusCodes.Status401Unauthorized, ErrorCodes.Unauthenticated,
            "Authentication required", "The internal API requires the cluster secret as 'Authorization: Bearer <secret>'.");
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        await ProblemResults.Write(Context, StatusCodes.Status403Forbidden, ErrorCodes.Forbidden, "Forbidden", "Only gateways may use the internal API.");

    private static byte[] Hash(string value) => SHA256.HashData(Encoding.UTF8.GetBytes(value));
}
