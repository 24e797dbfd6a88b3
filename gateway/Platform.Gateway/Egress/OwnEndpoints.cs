using System.Collections.Frozen;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using Platform.Gateway.Hosting;

namespace Platform.Gateway.Egress;

/// <summary>
/// The gateway's own addresses and ports, which a tenant's backend must not be: a forward into the gateway itself (its
/// listeners, its admin listener) would loop or reach what tenants may not. Local addresses are loopback, unspecified and
/// every address of the host's interfaces, re-read at most every <see cref="RefreshInterval"/>; own ports are the bound
/// ws, wss, TLS, DTLS and admin ports and the whole dedicated port range (any of which a snapshot may open).
/// </summary>
internal sealed class OwnEndpoints(GatewayListeners listeners, IOptions<GatewayOptions> options, TimeProvider time)
{
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(30);

    private readonly GatewayOptions _options = options.Value;
    private volatile InterfaceAddresses? _interfaces;

    /// <summary>Reads the addresses of the host's interfaces (replaced in tests to stand for a host with a public address).</summary>
    internal Func<IEnumerable<IPAddress>> ReadAddresses { get; init; } = ReadInterfaceAddresses;

    /// <summary>Whether a connection to <paramref name="address"/> would arrive at this host.</summary>
    public bool IsLocal(IPAddress address)
    {
        address = Normalize(address);
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
        {
            return true;
        }

        var interfaces = _interfaces;
        if (interfaces is null || time.GetElapsedTime(interfaces.ReadAt) >= RefreshInterval)
        {
            interfaces = new InterfaceAddresses(ReadAddresses().Select(Normalize).ToFrozenSet(), time.GetTimestamp());
            _interfaces = interfaces;
        }

        return interfaces.Addresses.Contains(address);
    }

    /// <summary>Whether <paramref name="port"/> is one this gateway listens on, or may listen on, on its local addresses.</summary>
    public bool IsListenerPort(int port)
    {
        if (port >= _options.DedicatedPortMin && port <= _options.DedicatedPortMax)
        {
            return true;
        }

        // The bound ports once listening, the configured ones before (0 means "pick one" and is never a target port).
        return port == listeners.WsPort || port == listeners.WssPort || port == listeners.TlsPort || port == listeners.AdminPort
            || port == listeners.DtlsPort || port == _options.WsPort || port == _options.WssPort || port == _options.TlsPort
            || port == _options.AdminPort || port == _options.DtlsPort;
    }

    /// <summary>IPv4-mapped addresses as IPv4, and no IPv6 zone: the form addresses are compared in.</summary>
    public static IPAddress Normalize(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }

        return address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0 ? new IPAddress(address.GetAddressBytes()) : address;
    }

    private static IEnumerable<IPAddress> ReadInterfaceAddresses() =>
        NetworkInterface.GetAllNetworkInterfaces().SelectMany(static nic => nic.GetIPProperties().UnicastAddresses).Select(static unicast => unicast.Address);

    private sealed record InterfaceAddresses(FrozenSet<IPAddress> Addresses, long ReadAt);
}
