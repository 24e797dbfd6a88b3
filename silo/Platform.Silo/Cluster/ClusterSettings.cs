using System.Net;
using System.Net.Sockets;
using Platform.Cluster.Tls;

namespace Platform.Silo.Cluster;

/// <summary>
/// The Orleans cluster the silo joins (<c>Platform:Cluster</c>). Every silo with the same
/// <see cref="ClusterId"/> and database forms one cluster; each needs its own ports on a host.
/// </summary>
internal sealed class ClusterSettings
{
    /// <summary>Name of the cluster in the membership table; silos of another id in the same database ignore these.</summary>
    public string ClusterId { get; set; } = "platform";

    /// <summary>
    /// Address the silo-to-silo and client gateway ports listen on: any IP address of the host, <c>0.0.0.0</c> or <c>::</c>
    /// for all of them (then <see cref="AdvertisedAddress"/> is required). Every connection on these ports is TLS with a
    /// certificate from the cluster CA at both ends (<see cref="Tls"/>).
    /// </summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>
    /// Address other silos and the membership table see, when it differs from <see cref="ListenAddress"/> (a silo listening
    /// on every address, or behind address translation). Empty: the listen address.
    /// </summary>
    public string AdvertisedAddress { get; set; } = "";

    /// <summary>Port other silos connect to.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Port Orleans clients connect to.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>
    /// Initial timeout of a liveness probe between silos (Orleans adapts it between half and four times this to the
    /// response times it sees). With <see cref="MissedProbesLimit"/>, how soon a silo that died is noticed and its grains
    /// come back elsewhere; lower values also make a silo stalled by load more likely to be declared dead.
    /// </summary>
    public int ProbeTimeoutSeconds { get; set; } = 5;

    /// <summary>Probes in a row a silo may miss before the others suspect it and vote it dead.</summary>
    public int MissedProbesLimit { get; set; } = 3;

    /// <summary>The silo's certificate, key and the cluster's CA bundle (<c>Platform:Cluster:Tls</c>); all three are required.</summary>
    public ClusterTlsOptions Tls { get; set; } = new();

    /// <summary>The parsed <see cref="ListenAddress"/>, set by <see cref="Validate"/>.</summary>
    public IPAddress Address { get; private set; } = IPAddress.Loopback;

    /// <summary>The address other silos dial: <see cref="AdvertisedAddress"/>, or else <see cref="Address"/>. Set by <see cref="Validate"/>.</summary>
    public IPAddress Advertised { get; private set; } = IPAddress.Loopback;

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ClusterId) || ClusterId.Length > 100)
        {
            throw new InvalidOperationException("Platform:Cluster:ClusterId is required (at most 100 characters).");
        }

        if (!IPAddress.TryParse(ListenAddress, out var address))
        {
            throw new InvalidOperationException($"Platform:Cluster:ListenAddress '{ListenAddress}' is not an IP address.");
        }

        if (!Bindable(address))
        {
            throw new InvalidOperationException($"Platform:Cluster:ListenAddress '{ListenAddress}' is a multicast or broadcast address, which cannot be listened on.");
        }

        var advertised = address;
        if (!string.IsNullOrWhiteSpace(AdvertisedAddress))
        {
            if (!IPAddress.TryParse(AdvertisedAddress, out var parsed))
            {
                throw new InvalidOperationException($"Platform:Cluster:AdvertisedAddress '{AdvertisedAddress}' is not an IP address.");
            }

            if (Unspecified(parsed) || !Bindable(parsed))
            {
                throw new InvalidOperationException(
                    $"Platform:Cluster:AdvertisedAddress '{AdvertisedAddress}' must be one address other silos can connect to, not {AdvertisedAddress}.");
            }

            advertised = parsed;
        }
        else if (Unspecified(address))
        {
            throw new InvalidOperationException(
                $"Platform:Cluster:AdvertisedAddress is required when Platform:Cluster:ListenAddress is '{ListenAddress}': other silos need one address to connect to.");
        }

        if (SiloPort is < 1 or > 65535 || GatewayPort is < 1 or > 65535 || SiloPort == GatewayPort)
        {
            throw new InvalidOperationException("Platform:Cluster:SiloPort and GatewayPort must be two different ports.");
        }

        if (ProbeTimeoutSeconds is < 1 or > 60)
        {
            throw new InvalidOperationException("Platform:Cluster:ProbeTimeoutSeconds must be between 1 and 60.");
        }

        if (MissedProbesLimit is < 1 or > 10)
        {
            throw new InvalidOperationException("Platform:Cluster:MissedProbesLimit must be between 1 and 10.");
        }

        Tls ??= new ClusterTlsOptions();
        foreach (var (name, value) in new[]
        {
            (nameof(ClusterTlsOptions.CertificatePath), Tls.CertificatePath),
            (nameof(ClusterTlsOptions.KeyPath), Tls.KeyPath),
            (nameof(ClusterTlsOptions.CaPath), Tls.CaPath),
        })
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                throw new InvalidOperationException(
                    $"{ClusterTlsOptions.Section}:{name} is required: the Orleans ports accept only TLS with a certificate from the cluster CA (see docs/cluster-transport.md).");
            }
        }

        Address = address;
        Advertised = advertised;
    }

    private static bool Unspecified(IPAddress address) => address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any);

    private static bool Bindable(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetworkV6
            ? !address.IsIPv6Multicast
            : !address.Equals(IPAddress.Broadcast) && (address.GetAddressBytes()[0] & 0xF0) != 0xE0;
}
