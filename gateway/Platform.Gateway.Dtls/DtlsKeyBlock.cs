using System.Security.Cryptography;
using System.Text;

namespace Platform.Gateway.Dtls;

/// <summary>The AEAD constructions whose DTLS 1.2 records the gateway protects itself once OpenSSL's handshake is done.</summary>
internal enum DtlsAeadKind
{
    /// <summary>AES-GCM, RFC 5288: 4-byte implicit salt, 8-byte explicit nonce, 16-byte tag.</summary>
    AesGcm,

    /// <summary>AES-CCM, RFC 6655: nonce as for GCM, 16-byte tag.</summary>
    AesCcm,

    /// <summary>AES-CCM_8, RFC 6655: nonce as for GCM, 8-byte tag.</summary>
    AesCcm8,

    /// <summary>ChaCha20-Poly1305, RFC 7905: 12-byte IV XORed with the sequence number, no explicit nonce, 16-byte tag.</summary>
    ChaCha20Poly1305,
}

/// <summary>What a negotiated AEAD suite needs from the key block and from each record.</summary>
internal readonly record struct DtlsAeadSuite(DtlsAeadKind Kind, int KeyLength, HashAlgorithmName PrfHash)
{
    /// <summary>Bytes of write IV taken from the key block (the implicit part of the nonce).</summary>
    public int FixedIvLength => Kind == DtlsAeadKind.ChaCha20Poly1305 ? 12 : 4;

    /// <summary>Bytes of explicit nonce carried at the start of each record's fragment.</summary>
    public int RecordIvLength => Kind == DtlsAeadKind.ChaCha20Poly1305 ? 0 : 8;

    public int TagLength => Kind == DtlsAeadKind.AesCcm8 ? 8 : 16;

    /// <summary>Whether this platform's cryptography offers the construction (ChaCha20-Poly1305 needs OpenSSL 1.1 or later).</summary>
    public bool IsSupported => Kind switch
    {
        DtlsAeadKind.AesGcm => AesGcm.IsSupported,
        DtlsAeadKind.ChaCha20Poly1305 => ChaCha20Poly1305.IsSupported,
        _ => AesCcm.IsSupported,
    };

    /// <summary>
    /// The suite an OpenSSL cipher name stands for, when it is one of the AEAD families handled: AES-128/256 with GCM
    /// (the PRF hash is the suite's, SHA-256 or SHA-384), CCM or CCM_8 (SHA-256), and ChaCha20-Poly1305 (SHA-256),
    /// with any key exchange. CBC, ARIA, Camellia and the rest are not.
    /// </summary>
    public static bool TryFromOpenSslName(string? name, out DtlsAeadSuite suite)
    {
        suite = default;
        if (string.IsNullOrEmpty(name))
        {
            return false;
        }

        var parts = name.Split('-');
        if (parts.Length >= 2 && parts[^2] == "CHACHA20" && parts[^1] == "POLY1305")
        {
            suite = new DtlsAeadSuite(DtlsAeadKind.ChaCha20Poly1305, 32, HashAlgorithmName.SHA256);
            return true;
        }

        for (var i = 0; i + 1 < parts.Length; i++)
        {
            var keyLength = parts[i] switch
            {
                "AES128" => 16,
                "AES256" => 32,
                _ => 0,
            };
            if (keyLength == 0)
            {
                continue;
            }

            var last = i + 2 == parts.Length;
            switch (parts[i + 1])
            {
                case "GCM" when i + 3 == parts.Length && parts[i + 2] is "SHA256" or "SHA384":
                    suite = new DtlsAeadSuite(DtlsAeadKind.AesGcm, keyLength, parts[i + 2] == "SHA384" ? HashAlgorithmName.SHA384 : HashAlgorithmName.SHA256);
                    return true;
                case "CCM" when last:
                    suite = new DtlsAeadSuite(DtlsAeadKind.AesCcm, keyLength, HashAlgorithmName.SHA256);
                    return true;
                case "CCM8" when last:
                    suite = new DtlsAeadSuite(DtlsAeadKind.AesCcm8, keyLength, HashAlgorithmName.SHA256);
                    return true;
                default:
                    return false;
            }
        }

        return false;
    }
}

/// <summary>
/// The TLS 1.2 key block (RFC 5246 section 6.3) of an AEAD suite: the PRF of section 5 over the master secret with
/// the label "key expansion" and the server's then the client's random, cut into the client's and the server's write
/// keys and write IVs (AEAD suites have no MAC keys). The arrays are pinned, so the collector never leaves copies of
/// them behind; <see cref="Dispose"/> zeroes them.
/// </summary>
internal sealed class DtlsKeyBlock : IDisposable
{
    private static readonly byte[] KeyExpansion = Encoding.ASCII.GetBytes("key expansion");

    private DtlsKeyBlock(DtlsAeadSuite suite)
    {
        Suite = suite;
        ClientWriteKey = GC.AllocateArray<byte>(suite.KeyLength, pinned: true);
        ServerWriteKey = GC.AllocateArray<byte>(suite.KeyLength, pinned: true);
        ClientWriteIv = GC.AllocateArray<byte>(suite.FixedIvLength, pinned: true);
        ServerWriteIv = GC.AllocateArray<byte>(suite.FixedIvLength, pinned: true);
    }

    public DtlsAeadSuite Suite { get; }

    public byte[] ClientWriteKey { get; }

    public byte[] ServerWriteKey { get; }

    public byte[] ClientWriteIv { get; }

    public byte[] ServerWriteIv { get; }

    public static DtlsKeyBlock Derive(DtlsAeadSuite suite, ReadOnlySpan<byte> masterSecret, ReadOnlySpan<byte> clientRandom, ReadOnlySpan<byte> serverRandom)
    {
        if (clientRandom.Length != 32 || serverRandom.Length != 32 || masterSecret.Length != 48)
        {
            throw new ArgumentException("A TLS 1.2 master secret is 48 bytes and each random 32.");
        }

        var block = new DtlsKeyBlock(suite);
        var length = 2 * (suite.KeyLength + suite.FixedIvLength);
        Span<byte> seed = stackalloc byte[64];
        serverRandom.CopyTo(seed);
        clientRandom.CopyTo(seed[32..]);
        var material = GC.AllocateArray<byte>(length, pinned: true);
        try
        {
            Prf(suite.PrfHash, masterSecret, KeyExpansion, seed, material);
            var offset = 0;
            foreach (var part in new[] { block.ClientWriteKey, block.ServerWriteKey, block.ClientWriteIv, block.ServerWriteIv })
            {
                material.AsSpan(offset, part.Length).CopyTo(part);
                offset += part.Length;
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(material);
        }

        return block;
    }

    /// <summary>
    /// PRF(secret, label, seed) = P_hash(secret, label + seed) (RFC 5246 section 5): A(0) = label + seed,
    /// A(i) = HMAC(secret, A(i-1)), output HMAC(secret, A(1) + label + seed) || HMAC(secret, A(2) + label + seed) ...
    /// </summary>
    internal static void Prf(HashAlgorithmName hash, ReadOnlySpan<byte> secret, ReadOnlySpan<byte> label, ReadOnlySpan<byte> seed, Span<byte> output)
    {
        using var hmac = IncrementalHash.CreateHMAC(hash, secret);
        var size = hmac.HashLengthInBytes;
        Span<byte> a = stackalloc byte[size];
        Span<byte> chunk = stackalloc byte[size];
        hmac.AppendData(label);
        hmac.AppendData(seed);
        hmac.GetHashAndReset(a);
        var offset = 0;
        while (offset < output.Length)
        {
            hmac.AppendData(a);
            hmac.AppendData(label);
            hmac.AppendData(seed);
            hmac.GetHashAndReset(chunk);
            var take = Math.Min(size, output.Length - offset);
            chunk[..take].CopyTo(output[offset..]);
            offset += take;
            hmac.AppendData(a);
            hmac.GetHashAndReset(a);
        }

        CryptographicOperations.ZeroMemory(a);
        CryptographicOperations.ZeroMemory(chunk);
    }

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(ClientWriteKey);
        CryptographicOperations.ZeroMemory(ServerWriteKey);
        CryptographicOperations.ZeroMemory(ClientWriteIv);
        CryptographicOperations.ZeroMemory(ServerWriteIv);
    }
}
