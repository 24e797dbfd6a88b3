using Platform.Cluster.Tls;

namespace Platform.Testing;

/// <summary>A certificate, its key and the CA bundle to trust, as the PEM files <c>Platform:Cluster:Tls</c> names.</summary>
public sealed record ClusterCertificateFiles(string CertificatePath, string KeyPath, string CaPath)
{
    /// <summary>The same certificate and key, trusting another bundle.</summary>
    public ClusterCertificateFiles Trusting(string caPath) => this with { CaPath = caPath };

    /// <summary>The silo settings that name these files.</summary>
    public Dictionary<string, string?> Settings() => new()
    {
        [$"{ClusterTlsOptions.Section}:{nameof(ClusterTlsOptions.CertificatePath)}"] = CertificatePath,
        [$"{ClusterTlsOptions.Section}:{nameof(ClusterTlsOptions.KeyPath)}"] = KeyPath,
        [$"{ClusterTlsOptions.Section}:{nameof(ClusterTlsOptions.CaPath)}"] = CaPath,
    };

    /// <summary>Loads the files as a silo or a client would, checked against the real clock.</summary>
    public ClusterTlsMaterial Load(ClusterTlsRole role) =>
        ClusterTlsMaterial.Load(new ClusterTlsOptions { CertificatePath = CertificatePath, KeyPath = KeyPath, CaPath = CaPath }, role, TimeProvider.System);
}
