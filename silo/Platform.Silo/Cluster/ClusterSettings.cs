using System.Net;
using Platform.Contracts.Egress;

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
    /// Address the silo-to-silo and client gateway ports listen on and that other silos dial. Loopback or a
    /// private address only: the Orleans transport is not authenticated yet, and grain calls carry tenant secrets.
    /// </summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

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

    /// <summary>The parsed <see cref="ListenAddress"/>, set by <see cref="Validate"/>.</summary>
    public IPAddress Address { get; private set; } = IPAddress.Loopback;

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

        if (EgressPolicy.Classify(address) is not (EgressAddressClass.Loopback or EgressAddressClass.Private or EgressAddressClass.UniqueLocal))
        {
            throw new InvalidOperationException(
                $"Platform:Cluster:ListenAddress '{ListenAddress}' must be a loopback or private address: the cluster transport is not authenticated.");
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

        Address = address;
    }
}
