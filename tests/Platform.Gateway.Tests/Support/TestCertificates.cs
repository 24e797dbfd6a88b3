using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Platform.Contracts.Internal;

namespace Platform.Gateway.Tests.Support;

/// <summary>Throwaway certificates: a CA, server certificates for host names, client certificates.</summary>
internal static class TestCertificates
{
    public static X509Certificate2 CreateCa(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
    }

    /// <summary>An intermediate CA under <paramref name="ca"/>, with its private key.</summary>
    public static X509Certificate2 CreateIntermediate(X509Certificate2 ca, string name)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using var signed = request.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(180), RandomNumberGenerator.GetBytes(12));
        return signed.CopyWithPrivateKey(key);
    }

    public static X509Certificate2 CreateSigned(X509Certificate2 ca, string subject, bool server, params string[] hostNames)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={subject}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [server ? new Oid("1.3.6.1.5.5.7.3.1") : new Oid("1.3.6.1.5.5.7.3.2")], false));
        if (hostNames.Length > 0)
        {
            var san = new SubjectAlternativeNameBuilder();
            foreach (var host in hostNames)
            {
                san.AddDnsName(host);
            }

            request.CertificateExtensions.Add(san.Build());
        }

        var serial = RandomNumberGenerator.GetBytes(12);
        using var signed = request.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(90), serial);
        return signed.CopyWithPrivateKey(key);
    }

    /// <summary>A server certificate (signed by a throwaway CA) as a snapshot carries it.</summary>
    public static CertificateMaterial ServerMaterial(params string[] hostNames)
    {
        using var ca = CreateCa("Test CA " + hostNames[0]);
        using var leaf = CreateSigned(ca, hostNames[0], server: true, hostNames);
        var chain = leaf.ExportCertificatePem() + "\n" + ca.ExportCertificatePem() + "\n";
        var key = leaf.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem();
        return new CertificateMaterial(Guid.NewGuid(), hostNames, chain, key, leaf.NotAfter.ToUniversalTime());
    }

    public static string Thumbprint(byte[] raw) => Convert.ToHexStringLower(SHA256.HashData(raw));
}
