using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Platform.Testing;

/// <summary>One request as a <see cref="WebhookReceiver"/> saw it.</summary>
public sealed record WebhookRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    /// <summary>Whether the POST verified with the receiver's secret (false when the receiver was started without one).</summary>
    public bool SignatureValid { get; init; }

    /// <summary><c>Platform-Event-Type</c>.</summary>
    public string Type => Header("Platform-Event-Type");

    /// <summary><c>Platform-Event-Id</c>.</summary>
    public string EventId => Header("Platform-Event-Id");

    /// <summary><c>Platform-Tenant</c>.</summary>
    public string Tenant => Header("Platform-Tenant");

    public JsonElement Json => JsonDocument.Parse(Body).RootElement;

    public string Header(string name) => Headers.TryGetValue(name, out var value) ? value : "";

    /// <summary>
    /// Verifies <c>Platform-Signature</c> as docs/webhooks.md tells a receiver to: split on commas, take <c>t</c> and
    /// every <c>v1</c>, compute HMAC-SHA256 over the ASCII timestamp, a full stop and the raw body with the secret, and
    /// accept when one <c>v1</c> equals it (compared in constant time) and the timestamp is within the tolerance.
    /// </summary>
    public bool SignedWith(string secret, TimeSpan tolerance)
    {
        long? timestamp = null;
        var signatures = new List<byte[]>();
        foreach (var part in Header("Platform-Signature").Split(','))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                return false;
            }

            var (key, value) = (part[..eq].Trim(), part[(eq + 1)..].Trim());
            if (key == "t" && long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var t))
            {
                timestamp = t;
            }
            else if (key == "v1" && value.Length == 64 && value.All(Uri.IsHexDigit))
            {
                signatures.Add(Convert.FromHexString(value));
            }
        }

        if (timestamp is null || Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - timestamp.Value) > tolerance.TotalSeconds)
        {
            return false;
        }

        var signed = Encoding.ASCII.GetBytes($"{timestamp.Value}.").Concat(Body).ToArray();
        var expected = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed);
        return signatures.Any(s => CryptographicOperations.FixedTimeEquals(s, expected));
    }
}
