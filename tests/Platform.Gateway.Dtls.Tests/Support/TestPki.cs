using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Platform.Gateway.Dtls.Tests.Support;

/// <summary>Throw-away certificates for tests: a CA and leaves signed by it, exported as PEM (chain + PKCS#8 key).</summary>
internal static class TestPki
{
    public static (X509Certificate2 Certificate, AsymmetricAlgorithm Key) CreateCa(string name)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        return (certificate, key);
    }

    /// <summary>A leaf for <paramref name="dnsNames"/> as "leaf PEM + CA PEM + key PEM".</summary>
    public static string CreateServerPem((X509Certificate2 Certificate, AsymmetricAlgorithm Key) ca, string commonName, bool rsa = false, params string[] dnsNames) =>
        CreateServerPem(ca, commonName, rsa ? 2048 : 0, dnsNames);

    /// <summary>As above, with an RSA key of <paramref name="rsaBits"/> bits (0: ECDSA P-256).</summary>
    public static string CreateServerPem((X509Certificate2 Certificate, AsymmetricAlgorithm Key) ca, string commonName, int rsaBits, params string[] dnsNames)
    {
        var (leaf, keyPem) = CreateLeaf(ca, commonName, rsaBits, dnsNames, clientAuth: false);
        return leaf.ExportCertificatePem() + "\n" + ca.Certificate.ExportCertificatePem() + "\n" + keyPem + "\n";
    }

    public static (string CertificatePem, string KeyPem, string Sha256) CreateClient((X509Certificate2 Certificate, AsymmetricAlgorithm Key) ca, string commonName)
    {
        var (leaf, keyPem) = CreateLeaf(ca, commonName, rsaBits: 0, [], clientAuth: true);
        return (leaf.ExportCertificatePem(), keyPem, Convert.ToHexString(SHA256.HashData(leaf.RawData)));
    }

    private static (X509Certificate2 Leaf, string KeyPem) CreateLeaf((X509Certificate2 Certificate, AsymmetricAlgorithm Key) ca, string commonName, int rsaBits, string[] dnsNames, bool clientAuth)
    {
        using AsymmetricAlgorithm key = rsaBits > 0 ? RSA.Create(rsaBits) : ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = key is RSA r
            ? new CertificateRequest($"CN={commonName}", r, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest($"CN={commonName}", (ECDsa)key, HashAlgorithmName.SHA256);
        if (dnsNames.Length > 0)
        {
            var san = new SubjectAlternativeNameBuilder();
            foreach (var name in dnsNames)
            {
                san.AddDnsName(name);
            }

            request.CertificateExtensions.Add(san.Build());
        }

        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(clientAuth ? "1.3.6.1.5.5.7.3.2" : "1.3.6.1.5.5.7.3.1")], false));
        var serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7F;
        var leaf = request.Create(ca.Certificate.SubjectName, X509SignatureGenerator.CreateForECDsa((ECDsa)ca.Key), DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(90), serial);
        var keyPem = key is RSA rsaKey ? rsaKey.ExportPkcs8PrivateKeyPem() : ((ECDsa)key).ExportPkcs8PrivateKeyPem();
        return (leaf, keyPem);
    }
}
