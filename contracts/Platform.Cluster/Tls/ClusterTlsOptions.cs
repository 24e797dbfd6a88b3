namespace Platform.Cluster.Tls;

/// <summary>
/// Where a process of the cluster finds its TLS material for the Orleans transport: its own certificate and key, and the
/// cluster's CA bundle. Bound from <c>Platform:Cluster:Tls</c>; every path names a PEM file.
/// </summary>
public sealed class ClusterTlsOptions
{
    /// <summary>The configuration section the silo and the gateway bind these options from.</summary>
    public const string Section = "Platform:Cluster:Tls";

    /// <summary>
    /// PEM file with this process's certificate, issued by a CA of <see cref="CaPath"/>. Certificates after the first are
    /// intermediates sent along with it.
    /// </summary>
    public string CertificatePath { get; set; } = "";

    /// <summary>PEM file with the unencrypted private key (PKCS#8, SEC1 or PKCS#1) of <see cref="CertificatePath"/>.</summary>
    public string KeyPath { get; set; } = "";

    /// <summary>
    /// PEM file with the CA certificates the cluster trusts. A remote certificate is accepted only when its chain ends at one
    /// of them. It may hold several: during a CA rotation it holds the old and the new CA.
    /// </summary>
    public string CaPath { get; set; } = "";
}
