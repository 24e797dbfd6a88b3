using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Platform.Testing;

/// <summary>
/// A certificate authority for the Orleans transport of test silos and clients, kept as PEM files the way
/// <c>infra/run.sh</c> keeps its cluster CA: <see cref="Cluster"/> is the one CA of the test process (every test silo
/// trusts it and presents <see cref="Silo"/>); <see cref="CreateAuthority"/> makes others, which the cluster does not trust.
/// EC P-256 keys, made with <see cref="CertificateRequest"/>; the files live in a directory of mode 700 removed when the
/// process exits.
/// </summary>
public sealed class ClusterCertificates
{
    private static readonly Lazy<string> LazyDirectory = new(CreateDirectory);
    private static readonly Lazy<ClusterCertificates> LazyCluster = new(() => CreateAuthority("cluster"));
    private static int _issued;

    private readonly ECDsa _key;
    private readonly Lazy<ClusterCertificateFiles> _silo;
    private readonly Lazy<ClusterCertificateFiles> _gateway;

    private ClusterCertificates(string name, X509Certificate2 certificate, ECDsa key, string caPath)
    {
        Name = name;
        Certificate = certificate;
        _key = key;
        CaPath = caPath;
        _silo = new Lazy<ClusterCertificateFiles>(() => Issue("silo", serverAuth: true, clientAuth: true));
        _gateway = new Lazy<ClusterCertificateFiles>(() => Issue("gateway", serverAuth: false, clientAuth: true));
    }

    /// <summary>The cluster CA of this test process: the one <see cref="SiloTestSettings"/> gives every test silo.</summary>
    public static ClusterCertificates Cluster => LazyCluster.Value;

    public string Name { get; }

    /// <summary>The CA certificate (without its key).</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>PEM file holding this CA's certificate alone.</summary>
    public string CaPath { get; }

    /// <summary>A silo certificate of this CA (server and client authentication), issued once.</summary>
    public ClusterCertificateFiles Silo => _silo.Value;

    /// <summary>A gateway (cluster client) certificate of this CA (client authentication only), issued once.</summary>
    public ClusterCertificateFiles Gateway => _gateway.Value;

    /// <summary>A new CA, with a certificate valid from a year ago for ten years (so expired leaves can be issued too).</summary>
    public static ClusterCertificates CreateAuthority(string name)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN=Platform test {name} CA", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        var now = DateTimeOffset.UtcNow;
        using var withKey = request.CreateSelfSigned(now.AddYears(-1), now.AddYears(10));
        var certificate = X509CertificateLoader.LoadCertificate(withKey.RawData);
        var caPath = Write($"{name}-ca-{Next()}.crt", certificate.ExportCertificatePem());
        return new ClusterCertificates(name, certificate, key, caPath);
    }

    /// <summary>A PEM bundle of several CAs, as a cluster holds during a CA rotation.</summary>
    public static string Bundle(params ClusterCertificates[] authorities)
    {
        ArgumentNullException.ThrowIfNull(authorities);
        return Write($"bundle-{Next()}.crt", string.Concat(authorities.Select(static a => a.Certificate.ExportCertificatePem() + "\n")));
    }

    /// <summary>
    /// A leaf certificate of this CA with an EC P-256 key, as PEM files beside the CA's. Valid from an hour ago for a year
    /// unless <paramref name="notBefore"/> / <paramref name="notAfter"/> say otherwise (a past <paramref name="notAfter"/>
    /// gives an expired certificate).
    /// </summary>
    public ClusterCertificateFiles Issue(string name, bool serverAuth, bool clientAuth, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        var usages = new OidCollection();
        if (serverAuth)
        {
            usages.Add(new Oid("1.3.6.1.5.5.7.3.1"));
        }

        if (clientAuth)
        {
            usages.Add(new Oid("1.3.6.1.5.5.7.3.2"));
        }

        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(usages, critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var now = DateTimeOffset.UtcNow;
        using var issuer = Certificate.CopyWithPrivateKey(_key);
        using var certificate = request.Create(issuer, notBefore ?? now.AddHours(-1), notAfter ?? now.AddYears(1), RandomNumberGenerator.GetBytes(16));
        var stem = $"{Name}-{name}-{Next()}";
        return new ClusterCertificateFiles(
            Write(stem + ".crt", certificate.ExportCertificatePem()),
            Write(stem + ".key", key.ExportPkcs8PrivateKeyPem()),
            CaPath);
    }

    private static string Next() => Interlocked.Increment(ref _issued).ToString(CultureInfo.InvariantCulture);

    private static string Write(string fileName, string pem)
    {
        var path = Path.Combine(LazyDirectory.Value, fileName);
        File.WriteAllText(path, pem);
        return path;
    }

    private static string CreateDirectory()
    {
        // Mode 0700 on Unix. Child silo processes read their files at start only, so removing them at exit is safe.
        var directory = Directory.CreateTempSubdirectory("cluster-ca-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        };
        return directory;
    }
}
