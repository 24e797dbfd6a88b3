using System.Net;
using System.Net.Sockets;

namespace Platform.Contracts.Config;

/// <summary>Kinds of <see cref="ClientListEntry"/>.</summary>
public enum ClientListEntryKind
{
    /// <summary><c>*</c>: every client.</summary>
    Any,
    /// <summary>A single IPv4 or IPv6 address.</summary>
    Address,
    /// <summary>A CIDR block such as <c>10.0.0.0/8</c> or <c>2001:db8::/32</c>.</summary>
    Network,
    /// <summary>An IPv4 pattern with <c>*</c> octets such as <c>192.168.*.*</c>.</summary>
    Ipv4Wildcard,
    /// <summary>A host name, possibly with <c>*</c> wildcards such as <c>*.example.com</c>.</summary>
    HostName,
}

/// <summary>One parsed entry of an AllowedClients / BlockedClients list.</summary>
public sealed record ClientListEntry
{
    /// <summary>The entry as written, trimmed.</summary>
    public required string Text { get; init; }

    /// <summary>What kind of pattern this is.</summary>
    public required ClientListEntryKind Kind { get; init; }

    /// <summary>Network address for <see cref="ClientListEntryKind.Address"/> and <see cref="ClientListEntryKind.Network"/>.</summary>
    public IPAddress? Address { get; init; }

    /// <summary>Prefix length for <see cref="ClientListEntryKind.Network"/> (and the full width for an address).</summary>
    public int PrefixLength { get; init; }

    /// <summary>Octet patterns for <see cref="ClientListEntryKind.Ipv4Wildcard"/>: -1 stands for <c>*</c>.</summary>
    public IReadOnlyList<int> Octets { get; init; } = [];

    /// <summary>
    /// Whether <paramref name="client"/> matches this entry by address. Host-name entries never match
    /// here: they are matched against names the gateway resolved off the hot path.
    /// IPv4-mapped IPv6 addresses are compared as IPv4.
    /// </summary>
    public bool Matches(IPAddress client)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (client.IsIPv4MappedToIPv6)
        {
            client = client.MapToIPv4();
        }

        switch (Kind)
        {
            case ClientListEntryKind.Any:
                return true;
            case ClientListEntryKind.Address:
            case ClientListEntryKind.Network:
                return Address is not null && InNetwork(client, Address, PrefixLength);
            case ClientListEntryKind.Ipv4Wildcard:
                if (client.AddressFamily != AddressFamily.InterNetwork)
                {
                    return false;
                }

                Span<byte> bytes = stackalloc byte[4];
                client.TryWriteBytes(bytes, out _);
                for (var i = 0; i < 4; i++)
                {
                    var pattern = i < Octets.Count ? Octets[i] : -1;
                    if (pattern >= 0 && pattern != bytes[i])
                    {
                        return false;
                    }
                }

                return true;
            default:
                return false;
        }
    }

    /// <summary>Whether a host name matches a host-name entry (case-insensitive, <c>*</c> matches any run of characters).</summary>
    public bool MatchesHostName(string hostName)
    {
        ArgumentNullException.ThrowIfNull(hostName);
        return Kind switch
        {
            ClientListEntryKind.Any => true,
            ClientListEntryKind.HostName => WildcardMatch(Text, hostName),
            _ => false,
        };
    }

    private static bool InNetwork(IPAddress client, IPAddress network, int prefixLength)
    {
        if (client.AddressFamily != network.AddressFamily)
        {
            return false;
        }

        Span<byte> a = stackalloc byte[16];
        Span<byte> b = stackalloc byte[16];
        client.TryWriteBytes(a, out var length);
        network.TryWriteBytes(b, out _);
        var fullBytes = prefixLength / 8;
        if (!a[..fullBytes].SequenceEqual(b[..fullBytes]))
        {
            return false;
        }

        var remainingBits = prefixLength % 8;
        if (remainingBits == 0 || fullBytes >= length)
        {
            return true;
        }

        var mask = (byte)(0xFF << (8 - remainingBits));
        return (a[fullBytes] & mask) == (b[fullBytes] & mask);
    }

    private static bool WildcardMatch(string pattern, string value)
    {
        int p = 0, v = 0, star = -1, mark = 0;
        while (v < value.Length)
        {
            if (p < pattern.Length && (pattern[p] == '*'))
            {
                star = p++;
                mark = v;
            }
            else if (p < pattern.Length && char.ToLowerInvariant(pattern[p]) == char.ToLowerInvariant(value[v]))
            {
                p++;
                v++;
            }
            else if (star >= 0)
            {
                p = star + 1;
                v = ++mark;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }
}
