namespace Platform.Silo.Certificates;

/// <summary>
/// An uploaded certificate that passed every check, reduced to what is stored. Holds the private key
/// as PKCS#8 DER; the caller encrypts it and then clears it with <see cref="ClearKey"/>.
/// </summary>
internal sealed class ValidatedCertificate
{
    public required string Subject { get; init; }

    public required string Issuer { get; init; }

    /// <summary>SHA-256 of the leaf's DER, lower-case hex.</summary>
    public required string Thumbprint { get; init; }

    /// <summary>DNS subject alternative names, lower-case, distinct, sorted.</summary>
    public required IReadOnlyList<string> HostNames { get; init; }

    public required DateTimeOffset NotBefore { get; init; }

    public required DateTimeOffset NotAfter { get; init; }

    /// <summary><c>RSA</c> or <c>ECDSA</c>.</summary>
    public required string KeyAlgorithm { get; init; }

    /// <summary>Leaf first, then the intermediates supplied, issuer after subject.</summary>
    public required string ChainPem { get; init; }

    public required int ChainLength { get; init; }

    public required byte[] PrivateKeyPkcs8 { get; init; }

    public void ClearKey() => System.Security.Cryptography.CryptographicOperations.ZeroMemory(PrivateKeyPkcs8);

    // The default ToString would be harmless, but an explicit one keeps key bytes out of any future log line.
    public override string ToString() => $"{Subject} ({Thumbprint})";
}
