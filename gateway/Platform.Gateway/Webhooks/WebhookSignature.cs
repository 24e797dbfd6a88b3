using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Platform.Gateway.Webhooks;

/// <summary>
/// The signature every webhook request carries (docs/webhook-delivery.md): <c>Platform-Signature: t=&lt;unix seconds&gt;,v1=&lt;hex&gt;</c>,
/// where the hex is HMAC-SHA256, keyed with the tenant's webhook secret (its UTF-8 bytes), over the ASCII timestamp, a
/// full stop and the exact request body.
/// </summary>
internal static class WebhookSignature
{
    /// <summary>The header's name.</summary>
    public const string Header = "Platform-Signature";

    /// <summary>The header's value for <paramref name="body"/> sent at <paramref name="unixSeconds"/>.</summary>
    public static string Create(string secret, long unixSeconds, ReadOnlySpan<byte> body)
    {
        var timestamp = unixSeconds.ToString(CultureInfo.InvariantCulture);
        var key = Encoding.UTF8.GetBytes(secret);
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
        CryptographicOperations.ZeroMemory(key);
        hmac.AppendData(Encoding.ASCII.GetBytes(timestamp));
        hmac.AppendData("."u8);
        hmac.AppendData(body);
        Span<byte> mac = stackalloc byte[32];
        hmac.GetHashAndReset(mac);
        return $"t={timestamp},v1={Convert.ToHexStringLower(mac)}";
    }
}
