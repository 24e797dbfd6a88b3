using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Platform.Silo.Tests.Certificates;

/// <summary>Certificates made on the spot with System.Security.Cryptography for upload tests.</summary>
internal static class TestCertificates
{
    public const string ServerAuth = "1.3.6.1.5.5.7.3.1";
    public const string ClientAuth = "1.3.6.1.5.5.7.3.2";

    /// <summary>A certificate with its private key attached, self-signed unless an issuer is given.</summary>
    public static X509Certificate2 Create(
        DateTimeOffset now,
        string[]? dnsNames = null,
        bool ecdsa = false,
        TimeSpan? validFrom = null,
        TimeSpan? validFor = null,
        string[]? enhancedKeyUsages = null,
        X509KeyUsageFlags? keyUsage = null,
        X509Certificate2? issuer = null,
        bool isCertificateAuthority = false,
        string subject = "CN=test",
        bool freshKey = false)
    {
        using var key = freshKey ? NewKey(ecdsa) : PooledKey(ecdsa);
        var request = key is ECDsa ec
            ? new CertificateRequest(subject, ec, HashAlgorithmName.SHA256)
            : new CertificateRequest(subject, (RSA)key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        if (dnsNames is { Length: > 0 })
        {
            var san = new SubjectAlternativeNameBuilder();
            foreach (var name in dnsNames)
            {
                san.AddDnsName(name);
            }

            request.CertificateExtensions.Add(san.Build());
        }

        if (enhancedKeyUsages is not null)
        {
            var oids = new OidCollection();
            foreach (var oid in enhancedKeyUsages)
            {
                oids.Add(new Oid(oid));
            }

            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(oids, false));
        }

        if (keyUsage is { } usage)
        {
            request.CertificateExtensions.Add(new X509KeyUsageExtension(usage, true));
        }

        if (isCertificateAuthority)
        {
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        }

        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var notBefore = now + (validFrom ?? TimeSpan.FromDays(-1));
        var notAfter = notBefore + (validFor ?? TimeSpan.FromDays(90));
        if (issuer is null)
        {
            return request.CreateSelfSigned(notBefore, notAfter);
        }

        var serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7f;
        using var signed = request.Create(issuer, notBefore, notAfter, serial);
        return key is ECDsa e ? signed.CopyWithPrivateKey(e) : signed.CopyWithPrivateKey((RSA)key);
    }

    // Generating RSA keys dominates test time on a busy machine; most tests only need some key, so a few are reused.
    private static readonly Lazy<byte[][]> RsaPool = new(() => [.. Enumerable.Range(0, 4).Select(_ => NewKey(false).ExportPkcs8PrivateKey())]);
    private static readonly Lazy<byte[][]> EcPool = new(() => [.. Enumerable.Range(0, 4).Select(_ => NewKey(true).ExportPkcs8PrivateKey())]);
    private static int s_next;

    private static AsymmetricAlgorithm NewKey(bool ecdsa) => ecdsa ? ECDsa.Create(ECCurve.NamedCurves.nistP256) : RSA.Create(2048);

    private static AsymmetricAlgorithm PooledKey(bool ecdsa)
    {
        var pool = ecdsa ? EcPool.Value : RsaPool.Value;
        var pkcs8 = pool[(int)((uint)Interlocked.Increment(ref s_next) % pool.Length)];
        AsymmetricAlgorithm key = ecdsa ? ECDsa.Create() : RSA.Create();
        key.ImportPkcs8PrivateKey(pkcs8, out _);
        return key;
    }

    public static AsymmetricAlgorithm PrivateKey(X509Certificate2 certificate) =>
        (AsymmetricAlgorithm?)certificate.GetRSAPrivateKey() ?? certificate.GetECDsaPrivateKey()
        ?? throw new InvalidOperationException("The certificate has no private key.");

    /// <summary>Certificate PEM followed by the PKCS#8 key PEM.</summary>
    public static string Pem(X509Certificate2 certificate)
    {
        using var key = PrivateKey(certificate);
        return certificate.ExportCertificatePem() + "\n" + key.ExportPkcs8PrivateKeyPem() + "\n";
    }

    public static string Pfx(X509Certificate2 certificate, string? password) =>
        Convert.ToBase64String(certificate.Export(X509ContentType.Pfx, password));

    public static byte[] Pkcs8(X509Certificate2 certificate)
    {
        using var key = PrivateKey(certificate);
        return key.ExportPkcs8PrivateKey();
    }
}
