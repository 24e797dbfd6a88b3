using System.Net;

namespace Platform.Silo.HostNames;

/// <summary>Settings of host-name proof, bound from the <c>Platform</c> section beside <see cref="PlatformOptions"/>.</summary>
internal sealed class HostNameOptions
{
    public const string DefaultPublicSuffixListPath = "/usr/share/publicsuffix/public_suffix_list.dat";

    /// <summary>The Public Suffix List file (Debian's <c>publicsuffix</c> package by default).</summary>
    public string PublicSuffixListPath { get; set; } = DefaultPublicSuffixListPath;

    /// <summary>Resolvers asked for challenge records, each <c>ip</c> or <c>ip:port</c> (<c>[v6]:port</c>); empty means the system's.</summary>
    public string[] DnsServers { get; set; } = [];

    /// <summary>How long one DNS query may take.</summary>
    public int DnsTimeoutMilliseconds { get; set; } = 3000;

    /// <summary>DNS checks (<c>verify</c> calls that reach DNS) one tenant may start per minute on one silo.</summary>
    public int HostNameChecksPerMinute { get; set; } = 10;

    /// <summary>The parsed <see cref="DnsServers"/>.</summary>
    public IReadOnlyList<IPEndPoint> DnsEndPoints { get; private set; } = [];

    public void Validate()
    {
        var endPoints = new List<IPEndPoint>();
        foreach (var server in DnsServers)
        {
            if (!IPEndPoint.TryParse(server.Trim(), out var endPoint))
            {
                throw new InvalidOperationException($"Platform:DnsServers: '{server}' is not an IP address with an optional port.");
            }

            endPoints.Add(endPoint.Port == 0 ? new IPEndPoint(endPoint.Address, 53) : endPoint);
        }

        DnsEndPoints = endPoints;
        if (DnsTimeoutMilliseconds is < 100 or > 30_000)
        {
            throw new InvalidOperationException("Platform:DnsTimeoutMilliseconds must be from 100 to 30000.");
        }

        if (HostNameChecksPerMinute is < 1 or > 1000)
        {
            throw new InvalidOperationException("Platform:HostNameChecksPerMinute must be from 1 to 1000.");
        }
    }
}
