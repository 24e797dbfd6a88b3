namespace Platform.Contracts.Certificates;

/// <summary>
/// Body of <c>POST /v1/tenants/{slug}/certificates</c>: either <c>pem</c> (certificate chain and
/// private key, PEM) or <c>pfx</c> (base64 PKCS#12) with an optional <c>password</c>.
/// </summary>
/// <param name="Pem">PEM text with the certificate, any intermediates and the private key.</param>
/// <param name="Pfx">Base64 of a PKCS#12 file.</param>
/// <param name="Password">Password of the PKCS#12 file.</param>
public sealed record UploadCertificateRequest(string? Pem = null, string? Pfx = null, string? Password = null);

/// <summary>A stored certificate. Never carries the private key.</summary>
/// <param name="Id">Identifier.</param>
/// <param name="Subject">Subject distinguished name.</param>
/// <param name="Issuer">Issuer distinguished name.</param>
/// <param name="Thumbprint">SHA-256 fingerprint of the leaf, hex.</param>
/// <param name="HostNames">DNS subject alternative names, which route to the tenant by SNI.</param>
/// <param name="NotBefore">Start of validity.</param>
/// <param name="NotAfter">End of validity.</param>
/// <param name="KeyAlgorithm"><c>RSA</c>, <c>ECDSA</c> and so on.</param>
/// <param name="CreatedAt">Upload time.</param>
public sealed record CertificateResponse(
    Guid Id,
    string Subject,
    string Issuer,
    string Thumbprint,
    IReadOnlyList<string> HostNames,
    DateTimeOffset NotBefore,
    DateTimeOffset NotAfter,
    string KeyAlgorithm,
    DateTimeOffset CreatedAt);
