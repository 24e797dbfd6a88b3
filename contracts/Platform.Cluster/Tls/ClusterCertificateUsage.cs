namespace Platform.Cluster.Tls;

/// <summary>The extended key usages a cluster certificate is checked for.</summary>
[Flags]
internal enum ClusterCertificateUsage
{
    None = 0,

    /// <summary>id-kp-clientAuth (1.3.6.1.5.5.7.3.2): the side that opens a connection.</summary>
    ClientAuth = 1,

    /// <summary>id-kp-serverAuth (1.3.6.1.5.5.7.3.1): the side that accepts it.</summary>
    ServerAuth = 2,
}
