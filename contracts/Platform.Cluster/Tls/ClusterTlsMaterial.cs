using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Platform.Cluster.Tls;

/// <summary>
/// A process's TLS material for the Orleans transport, loaded and checked once at start: its certificate with the private
/// key, any intermediates sent with it, and the CA bundle remote certificates are checked against. Pass it to
/// <c>UsePlatformTls</c> on the silo or client builder.
/// </summary>
public sealed class ClusterTlsMaterial
{
    private ClusterTlsMaterial(
        X509Certificate2 certificate, X509Certificate2Collection intermediates, X509Certificate2Collection authorities, ClusterTlsRole role)
    {
        Certificate = certificate;
        Intermediates = intermediates;
        Authorities = authorities;
        Role = role;
        Validator = new ClusterCertificateValidator(authorities);
    }

    /// <summary>This process's certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The CA certificates of the bundle: the only roots a remote certificate may chain to.</summary>
    public X509Certificate2Collection Authorities { get; }

    /// <summary>The role the material was loaded and checked for.</summary>
    public ClusterTlsRole Role { get; }

    internal X509Certificate2Collection Intermediates { get; }

    internal ClusterCertificateValidator Validator { get; }

    /// <summary>
    /// Reads the three PEM files of <paramref name="options"/> and checks them: each file is there and readable, the key
    /// belongs to the certificate, every certificate of the bundle is a CA, and the certificate is valid now, chains to a CA
    /// of the bundle and carries the extended key usages of <paramref name="role"/>. Throws
    /// <see cref="InvalidOperationException"/> naming the setting (<c>{section}:CertificatePath</c> and so on) otherwise.
    /// </summary>
    /// <param name="options">The paths.</param>
    /// <param name="role">What the process is in the cluster.</param>
    /// <param name="time">The clock the certificate must be valid by.</param>
    /// <param name="section">The configuration section the paths came from, for the messages.</param>
    public static ClusterTlsMaterial Load(ClusterTlsOptions options, ClusterTlsRole role, TimeProvider time, string section = ClusterTlsOptions.Section)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        var certificateSetting = $"{section}:{nameof(ClusterTlsOptions.CertificatePath)}";
        var keySetting = $"{section}:{nameof(ClusterTlsOptions.KeyPath)}";
        var caSetting = $"{section}:{nameof(ClusterTlsOptions.CaPath)}";
        var certificatePem = Read(options.CertificatePath, certificateSetting);
        var keyPem = Read(options.KeyPath, keySetting);
        var caPem = Read(options.CaPath, caSetting);

        var chain = Certificates(certificatePem, options.CertificatePath, certificateSetting);
        var authorities = Certificates(caPem, options.CaPath, caSetting);
        foreach (var authority in authorities)
        {
            if (!authority.Extensions.OfType<X509BasicConstraintsExtension>().Any(static b => b.CertificateAuthority))
            {
                throw new InvalidOperationException($"{caSetting}: {authority.Subject} in {options.CaPath} is not a CA certificate (basic constraints CA:TRUE).");
            }
        }

        var certificate = WithKey(chain[0], keyPem, options, certificateSetting, keySetting);
        chain.RemoveAt(0);
        var material = new ClusterTlsMaterial(certificate, chain, authorities, role);
        var usage = role == ClusterTlsRole.Silo
            ? ClusterCertificateUsage.ServerAuth | ClusterCertificateUsage.ClientAuth
            : ClusterCertificateUsage.ClientAuth;
        if (material.Validator.Check(certificate, chain, usage, time.GetUtcNow()) is { } reason)
        {
            throw new InvalidOperationException(
                $"{certificateSetting}: the certificate in {options.CertificatePath} ({certificate.Subject}) cannot be used: {reason} ({caSetting}: {options.CaPath}).");
        }

        return material;
    }

    private static string Read(string path, string setting)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new InvalidOperationException($"{setting} is required: the path of a PEM file.");
        }

        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InvalidOperationException($"{setting}: {path} does not exist.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"{setting}: {path} cannot be read ({e.Message}).", e);
        }
    }

    /// <summary>Every CERTIFICATE block of a PEM file, in the order they appear.</summary>
    private static X509Certificate2Collection Certificates(string pem, string path, string setting)
    {
        var certificates = new X509Certificate2Collection();
        var rest = pem.AsSpan();
        while (PemEncoding.TryFind(rest, out var fields))
        {
            if (rest[fields.Label].SequenceEqual("CERTIFICATE"))
            {
                try
                {
                    certificates.Add(X509CertificateLoader.LoadCertificate(Convert.FromBase64String(rest[fields.Base64Data].ToString())));
                }
                catch (CryptographicException e)
                {
                    throw new InvalidOperationException($"{setting}: {path} holds a certificate that cannot be read ({e.Message}).", e);
                }
            }

            rest = rest[fields.Location.End..];
        }

        return certificates.Count > 0
            ? certificates
            : throw new InvalidOperationException($"{setting}: {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----).");
    }

    private static X509Certificate2 WithKey(X509Certificate2 certificate, string keyPem, ClusterTlsOptions options, string certificateSetting, string keySetting)
    {
        if (keyPem.Contains("-----BEGIN ENCRYPTED PRIVATE KEY-----", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"{keySetting}: the key in {options.KeyPath} is encrypted; give an unencrypted key and protect the file by its mode (600).");
        }

        try
        {
            if (certificate.GetECDsaPublicKey() is { } ecPublic)
            {
                ecPublic.Dispose();
                using var key = ECDsa.Create();
                key.ImportFromPem(keyPem);
                return certificate.CopyWithPrivateKey(key);
            }

            if (certificate.GetRSAPublicKey() is { } rsaPublic)
            {
                rsaPublic.Dispose();
                using var key = RSA.Create();
                key.ImportFromPem(keyPem);
                return certificate.CopyWithPrivateKey(key);
            }
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            // The key file holds no key of the certificate's algorithm, or one that is not the certificate's.
            throw new InvalidOperationException(
                $"{keySetting}: {options.KeyPath} holds no private key that matches the certificate in {options.CertificatePath} ({certificateSetting}).", e);
        }

        throw new InvalidOperationException(
            $"{certificateSetting}: the certificate in {options.CertificatePath} has a {certificate.PublicKey.Oid.FriendlyName ?? certificate.PublicKey.Oid.Value} key; use ECDSA or RSA.");
    }
}
