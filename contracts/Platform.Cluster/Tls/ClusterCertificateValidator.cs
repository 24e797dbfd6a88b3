using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Platform.Cluster.Tls;

/// <summary>
/// Decides whether a certificate belongs to the cluster: its chain ends at a CA of the bundle (and only there: no system
/// roots), it is valid at the given time, and its extended key usages include what its side of the connection needs.
/// Nothing is looked up elsewhere: no revocation, no download of missing issuers.
/// </summary>
internal sealed class ClusterCertificateValidator
{
    private static readonly Oid ClientAuthOid = new("1.3.6.1.5.5.7.3.2", "Client Authentication");
    private static readonly Oid ServerAuthOid = new("1.3.6.1.5.5.7.3.1", "Server Authentication");

    private readonly X509Certificate2Collection _authorities;
    private readonly HashSet<string> _authorityHashes;

    public ClusterCertificateValidator(X509Certificate2Collection authorities)
    {
        _authorities = authorities;
        _authorityHashes = [.. authorities.Select(static a => a.GetCertHashString(HashAlgorithmName.SHA256))];
    }

    /// <summary>
    /// The policy a TLS handshake builds the remote chain with, so that even the runtime's own chain building neither trusts
    /// system roots nor fetches anything. A new instance each time: the runtime may add to it.
    /// </summary>
    public X509ChainPolicy HandshakePolicy()
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
            DisableCertificateDownloads = true,
        };
        policy.CustomTrustStore.AddRange(_authorities);
        return policy;
    }

    /// <summary>Why <paramref name="certificate"/> is refused, or null when it is accepted.</summary>
    /// <param name="certificate">The certificate to check.</param>
    /// <param name="intermediates">Further certificates the remote side sent, which may complete the chain.</param>
    /// <param name="required">The extended key usages the certificate must carry.</param>
    /// <param name="now">The time the certificate must be valid at.</param>
    public string? Check(X509Certificate2 certificate, X509Certificate2Collection? intermediates, ClusterCertificateUsage required, DateTimeOffset now)
    {
        if (certificate.Extensions.OfType<X509BasicConstraintsExtension>().Any(static b => b.CertificateAuthority))
        {
            return "it is a CA certificate, not a leaf";
        }

        var usages = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault();
        if (usages is null)
        {
            return $"it has no extended key usage extension; it needs {Describe(required)}";
        }

        var missing = ClusterCertificateUsage.None;
        if (required.HasFlag(ClusterCertificateUsage.ClientAuth) && !Has(usages, ClientAuthOid))
        {
            missing |= ClusterCertificateUsage.ClientAuth;
        }

        if (required.HasFlag(ClusterCertificateUsage.ServerAuth) && !Has(usages, ServerAuthOid))
        {
            missing |= ClusterCertificateUsage.ServerAuth;
        }

        if (missing != ClusterCertificateUsage.None)
        {
            return $"its extended key usage lacks {Describe(missing)}";
        }

        if (certificate.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault() is { } keyUsage
            && !keyUsage.KeyUsages.HasFlag(X509KeyUsageFlags.DigitalSignature))
        {
            return "its key usage lacks digitalSignature";
        }

        var utcNow = now.UtcDateTime;
        if (utcNow < certificate.NotBefore.ToUniversalTime())
        {
            return $"it is not valid before {Format(certificate.NotBefore)}";
        }

        if (utcNow > certificate.NotAfter.ToUniversalTime())
        {
            return $"it expired on {Format(certificate.NotAfter)}";
        }

        using var chain = new X509Chain();
        var policy = HandshakePolicy();
        policy.VerificationTime = utcNow;
        policy.VerificationTimeIgnored = false;
        if (intermediates is not null)
        {
            policy.ExtraStore.AddRange(intermediates);
        }

        if (required.HasFlag(ClusterCertificateUsage.ClientAuth))
        {
            policy.ApplicationPolicy.Add(ClientAuthOid);
        }

        if (required.HasFlag(ClusterCertificateUsage.ServerAuth))
        {
            policy.ApplicationPolicy.Add(ServerAuthOid);
        }

        chain.ChainPolicy = policy;
        var built = chain.Build(certificate);
        var status = chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, static (all, s) => all | s.Status);
        if (!built)
        {
            return (status & (X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain)) != 0
                ? $"it is not issued by a CA of the bundle (issuer: {certificate.Issuer})"
                : $"its chain is not valid ({string.Join("; ", chain.ChainStatus.Select(static s => s.StatusInformation.Trim()))})";
        }

        // CustomRootTrust already ends every valid chain in the bundle; checked again so that no setting of the runtime's
        // chain engine can make another root count.
        var root = chain.ChainElements[^1].Certificate;
        return _authorityHashes.Contains(root.GetCertHashString(HashAlgorithmName.SHA256))
            ? null
            : $"its chain ends at {root.Subject}, which is not in the bundle";
    }

    private static bool Has(X509EnhancedKeyUsageExtension usages, Oid wanted)
    {
        foreach (var usage in usages.EnhancedKeyUsages)
        {
            if (usage.Value == wanted.Value)
            {
                return true;
            }
        }

        return false;
    }

    private static string Describe(ClusterCertificateUsage usage) => usage switch
    {
        ClusterCertificateUsage.ClientAuth => "client authentication",
        ClusterCertificateUsage.ServerAuth => "server authentication",
        _ => "server and client authentication",
    };

    private static string Format(DateTime time) => time.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);
}
