using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Platform.Contracts.Events;

/// <summary>
/// The <c>Platform-Signature</c> header of every webhook request: <c>t=&lt;unix seconds&gt;,v1=&lt;hex&gt;[,v1=&lt;hex&gt;]</c>,
/// each <c>v1</c> the lower-case hex HMAC-SHA256, keyed with the UTF-8 bytes of one live secret, of the ASCII timestamp,
/// a full stop and the exact body bytes. During a secret rotation the header carries one <c>v1</c> per live secret
/// (current first), so a receiver that still holds only one of them can verify.
/// </summary>
public static class WebhookSignature
{
    /// <summary>The header's value for <paramref name="body"/> sent at <paramref name="timestamp"/>.</summary>
    public static string Create(long timestamp, ReadOnlySpan<byte> body, string secret, string? previousSecret = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        var header = new StringBuilder("t=").Append(timestamp.ToString(CultureInfo.InvariantCulture));
        header.Append(",v1=").Append(Compute(timestamp, body, secret));
        if (!string.IsNullOrEmpty(previousSecret) && previousSecret != secret)
        {
            header.Append(",v1=").Append(Compute(timestamp, body, previousSecret));
        }

        return header.ToString();
    }

    /// <summary>The lower-case hex HMAC-SHA256 of <c>{timestamp}.{body}</c> under <paramref name="secret"/>.</summary>
    public static string Compute(long timestamp, ReadOnlySpan<byte> body, string secret)
    {
        ArgumentException.ThrowIfNullOrEmpty(secret);
        var prefix = Encoding.ASCII.GetBytes(timestamp.ToString(CultureInfo.InvariantCulture) + ".");
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed.AsSpan(prefix.Length));
        return Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed));
    }
}
