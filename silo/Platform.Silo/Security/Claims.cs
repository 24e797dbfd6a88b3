using System.Security.Claims;

namespace Platform.Silo.Security;

/// <summary>Claim types and helpers for the two caller kinds.</summary>
internal static class Claims
{
    public const string Role = "platform:role";
    public const string TenantId = "platform:tenant";
    public const string Actor = "platform:actor";
    public const string OperatorRole = "operator";
    public const string TenantRole = "tenant";
    public const string OperatorPolicy = "operator";

    public static bool IsOperator(this ClaimsPrincipal user) => user.HasClaim(Role, OperatorRole);

    public static Guid? TenantScope(this ClaimsPrincipal user) =>
        Guid.TryParse(user.FindFirst(TenantId)?.Value, out var id) ? id : null;

    /// <summary>Who is acting, for the audit log. An operator portal may name the person with X-Operator-Name.</summary>
    public static string ActorName(this HttpContext context)
    {
        var actor = context.User.FindFirst(Actor)?.Value ?? "anonymous";
        if (context.User.IsOperator())
        {
            var name = context.Request.Headers["X-Operator-Name"].ToString();
            if (name.Length is > 0 and <= 100 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' or '@'))
            {
                return $"operator:{name}";
            }
        }

        return actor;
    }
}
