using System.Net;
using Platform.Contracts.Egress;

namespace Platform.Gateway.ProxyProtocol;

/// <summary>
/// One listener's PROXY protocol setting. <see cref="Mode"/> <c>off</c> (the default): the listener takes no header, and
/// one that arrives is the client's own bytes (it fails the TLS or HTTP handshake and is counted). <c>required</c>: every
/// connection must come from <see cref="TrustedNetworks"/> (the load balancer's addresses) and start with a v1 or v2
/// header, whose client address is then the connection's; any other connection is closed and counted.
/// </summary>
public sealed class ProxyListenerOptions
{
    public const string Off = "off";

    public const string Required = "required";

    /// <summary><c>off</c> or <c>required</c>.</summary>
    public string Mode { get; set; } = Off;

    /// <summary>CIDR ranges (or single addresses) the load balancer connects from; needed with <c>required</c>.</summary>
    public List<string> TrustedNetworks { get; } = [];

    public bool IsRequired => string.Equals(Mode, Required, StringComparison.OrdinalIgnoreCase);

    /// <summary>The trusted ranges, parsed; <see cref="Validate"/> has checked them.</summary>
    public IReadOnlyList<IPNetwork> ParsedTrustedNetworks() => [.. TrustedNetworks.Select(static n => TryParseNetwork(n, out var network, out _) ? network : default)];

    internal IEnumerable<string> Validate(string name)
    {
        if (!string.Equals(Mode, Off, StringComparison.OrdinalIgnoreCase) && !IsRequired)
        {
            yield return $"{name}:Mode must be '{Off}' or '{Required}', not '{Mode}'.";
        }

        foreach (var entry in TrustedNetworks)
        {
            if (!TryParseNetwork(entry, out _, out var error))
            {
                yield return $"{name}:TrustedNetworks: {error}";
            }
        }

        if (IsRequired && TrustedNetworks.Count == 0)
        {
            yield return $"{name}:Mode '{Required}' needs TrustedNetworks: the load balancer's addresses.";
        }
    }

    /// <summary>
    /// The operator-range syntax of the egress policy (<see cref="EgressPolicy.TryParseRange"/>): a single address or a
    /// CIDR range, IPv4 as four decimal numbers, no bits set past the prefix; IPv4-mapped IPv6 ranges are refused (peers
    /// are matched as IPv4).
    /// </summary>
    private static bool TryParseNetwork(string? text, out IPNetwork network, out string error)
    {
        if (!EgressPolicy.TryParseRange(text, out network, out error))
        {
            return false;
        }

        if (network.BaseAddress.IsIPv4MappedToIPv6)
        {
            error = $"'{text}' is an IPv4-mapped IPv6 range; write it as IPv4.";
            return false;
        }

        return true;
    }

    /// <summary>IPv4-mapped IPv6 addresses as IPv4, so a dual-stack socket's peers match IPv4 ranges.</summary>
    internal static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
