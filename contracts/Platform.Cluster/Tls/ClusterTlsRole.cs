namespace Platform.Cluster.Tls;

/// <summary>What a process is in the cluster, which decides the key usages its own certificate needs.</summary>
public enum ClusterTlsRole
{
    /// <summary>A silo: it accepts connections and opens them to other silos, so its certificate needs server and client authentication.</summary>
    Silo,

    /// <summary>An Orleans client (a gateway): it only connects, so its certificate needs client authentication.</summary>
    Client,
}
