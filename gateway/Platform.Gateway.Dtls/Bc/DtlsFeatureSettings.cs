using System.Collections.Frozen;
using System.Security.Cryptography;
using Platform.Contracts.Config;

namespace Platform.Gateway.Dtls.Bc;

/// <summary>
/// A tenant's DTLS features beyond the handshake (RFC 6520 heartbeats, RFC 9146 connection IDs, RFC 7250 raw public
/// keys). A session whose ClientHello offers one of them, for a tenant that enables it, is served by the BouncyCastle
/// engine; every other session by OpenSSL.
/// </summary>
public sealed record DtlsFeatureSettings
{
    /// <summary>No feature enabled: every session of the tenant stays on OpenSSL.</summary>
    public static DtlsFeatureSettings None { get; } = new();

    /// <summary>Heartbeat interval; zero when heartbeats are off.</summary>
    public TimeSpan HeartbeatInterval { get; init; }

    /// <summary>How long a heartbeat request may stay unanswered before the session ends.</summary>
    public TimeSpan HeartbeatTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Length of the connection IDs issued; zero when connection IDs are off.</summary>
    public int ConnectionIdLength { get; init; }

    /// <summary>Whether clients may authenticate with a registered raw public key.</summary>
    public bool RawPublicKeys { get; init; }

    /// <summary>SHA-256 fingerprints (lower-case hex) of the SubjectPublicKeyInfo of every raw public key the tenant trusts.</summary>
    public FrozenSet<string> TrustedKeyFingerprints { get; init; } = FrozenSet<string>.Empty;

    /// <summary>Whether any feature is on.</summary>
    public bool Any => HeartbeatInterval > TimeSpan.Zero || ConnectionIdLength > 0 || RawPublicKeys;

    /// <summary>
    /// Builds the features from the tenant's <c>dtls</c> section and its registered raw public keys (DER
    /// SubjectPublicKeyInfo). Each key's fingerprint is computed here from the key itself, never taken on trust.
    /// </summary>
    public static DtlsFeatureSettings FromConfig(DtlsConfig? config, IEnumerable<byte[]>? rawPublicKeys)
    {
        if (config is null)
        {
            return None;
        }

        var fingerprints = rawPublicKeys?.Select(Fingerprint).ToFrozenSet(StringComparer.Ordinal) ?? FrozenSet<string>.Empty;
        return new DtlsFeatureSettings
        {
            HeartbeatInterval = config.HeartbeatIntervalSeconds > 0 ? TimeSpan.FromSeconds(config.HeartbeatIntervalSeconds) : TimeSpan.Zero,
            HeartbeatTimeout = TimeSpan.FromSeconds(Math.Max(1, config.HeartbeatTimeoutSeconds)),
            ConnectionIdLength = config.ConnectionIds.Enabled
                ? Math.Clamp(config.ConnectionIds.Length, DtlsConnectionIdConfig.MinLength, DtlsConnectionIdConfig.MaxLength)
                : 0,
            RawPublicKeys = config.RawPublicKeys.Enabled,
            TrustedKeyFingerprints = fingerprints,
        };
    }

    /// <summary>SHA-256 of a DER SubjectPublicKeyInfo, lower-case hex.</summary>
    public static string Fingerprint(byte[] subjectPublicKeyInfo) => Convert.ToHexStringLower(SHA256.HashData(subjectPublicKeyInfo));
}
