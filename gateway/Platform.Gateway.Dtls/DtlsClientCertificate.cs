namespace Platform.Gateway.Dtls;

/// <summary>The certificate a client authenticated with (verified against the tenant's client CAs).</summary>
/// <param name="Subject">Subject distinguished name.</param>
/// <param name="Issuer">Issuer distinguished name.</param>
/// <param name="Sha256Fingerprint">SHA-256 of the DER certificate, upper-case hex.</param>
/// <param name="NotAfter">End of validity.</param>
public sealed record DtlsClientCertificate(string Subject, string Issuer, string Sha256Fingerprint, DateTimeOffset NotAfter);
