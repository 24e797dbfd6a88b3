namespace Platform.Contracts.RawKeys;

/// <summary>Body of <c>POST /v1/tenants/{slug}/raw-public-keys</c>.</summary>
/// <param name="Key">
/// The client's public key: a PEM <c>PUBLIC KEY</c> block, or the base64 of its DER SubjectPublicKeyInfo. EC P-256 or
/// P-384, Ed25519, or RSA of 2048 to 8192 bits. A private key is refused and never stored.
/// </param>
/// <param name="Name">Optional label for people, 1..64 printable characters.</param>
public sealed record CreateRawPublicKeyRequest(string Key, string? Name = null);

/// <summary>A client raw public key (RFC 7250) the tenant trusts. Keys are write-once: delete and add again to change one.</summary>
/// <param name="Id">Identifier.</param>
/// <param name="Name">The label given when it was added, or null.</param>
/// <param name="Fingerprint">SHA-256 of the DER SubjectPublicKeyInfo, 64 lower-case hex digits.</param>
/// <param name="Algorithm">
/// <c>ec-p256</c>, <c>ec-p384</c>, <c>ed25519</c> or <c>rsa-{bits}</c> (for example <c>rsa-2048</c>).
/// </param>
/// <param name="CreatedAt">When it was added.</param>
public sealed record RawPublicKeyResponse(Guid Id, string? Name, string Fingerprint, string Algorithm, DateTimeOffset CreatedAt);

/// <summary>The algorithm names of <see cref="RawPublicKeyResponse.Algorithm"/>.</summary>
public static class RawPublicKeyAlgorithms
{
    /// <summary>ECDSA on NIST P-256.</summary>
    public const string EcP256 = "ec-p256";
    /// <summary>ECDSA on NIST P-384.</summary>
    public const string EcP384 = "ec-p384";
    /// <summary>Ed25519 (RFC 8410).</summary>
    public const string Ed25519 = "ed25519";

    /// <summary>RSA with a modulus of <paramref name="bits"/> bits.</summary>
    public static string Rsa(int bits) => "rsa-" + bits.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
