namespace Platform.Testing;

/// <summary>Settings every test silo starts with, in process (<see cref="SiloApp"/>) or as a process (<see cref="SiloProcess"/>).</summary>
internal static class SiloTestSettings
{
    /// <summary>
    /// The platform domain of the tests, and DNS: host-name checks ask DNS, and a test that does not start its own server
    /// gets a closed loopback port, never the system's resolvers (tests send nothing off this machine). The Orleans
    /// transport's TLS: the silo certificate of the test process's cluster CA (<see cref="ClusterCertificates.Cluster"/>).
    /// </summary>
    public static Dictionary<string, string?> Defaults()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Platform:Domain"] = "platform.test",
            ["Platform:DnsServers:0"] = "127.0.0.1:9",
            ["Platform:DnsTimeoutMilliseconds"] = "1000",
            // Every test silo serves metrics and health on an admin port of its own.
            ["Platform:AdminUrls"] = "http://127.0.0.1:0",
        };
        foreach (var (key, value) in ClusterCertificates.Cluster.Silo.Settings())
        {
            settings[key] = value;
        }

        return settings;
    }
}
