using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace Platform.Silo.Security;

/// <summary>Tenant API keys look like <c>tk_{id:N}_{43 base64url characters}</c>.</summary>
internal static class ApiKeyFormat
{
    public const string Prefix = "tk_";

    public static (Guid Id, string Key, string Secret) Create()
    {
        var id = Guid.NewGuid();
        var secret = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        return (id, $"{Prefix}{id:N}_{secret}", secret);
    }

    public static bool TryParse(string key, out Guid id, [NotNullWhen(true)] out string? secret)
    {
        id = Guid.Empty;
        secret = null;
        if (!key.StartsWith(Prefix, StringComparison.Ordinal) || key.Length != Prefix.Length + 32 + 1 + 43 || key[Prefix.Length + 32] != '_')
        {
            return false;
        }

        if (!Guid.TryParseExact(key.AsSpan(Prefix.Length, 32), "N", out id))
        {
            return false;
        }

        secret = key[(Prefix.Length + 33)..];
        return true;
    }

    /// <summary>The part of a key that may be shown after creation, to recognise it.</summary>
    public static string DisplayPrefix(Guid id) => $"{Prefix}{id:N}"[..11];
}
