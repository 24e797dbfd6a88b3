using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Platform.Contracts.Config;

/// <summary>
/// Parser for AllowedClients / BlockedClients: a comma-separated list of host names or IP addresses
/// with <c>*</c> wildcards (the IPWorks format), plus CIDR blocks and IPv6 addresses.
/// </summary>
public static class ClientList
{
    /// <summary>Longest accepted list, in characters.</summary>
    public const int MaxLength = 8192;
    /// <summary>Most entries in one list.</summary>
    public const int MaxEntries = 512;

    /// <summary>Parses a list; on failure <paramref name="error"/> names the first bad entry.</summary>
    public static bool TryParse(string? text, out IReadOnlyList<ClientListEntry> entries, out string? error)
    {
        entries = [];
        error = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return true;
        }

        if (text.Length > MaxLength)
        {
            error = $"The list is longer than {MaxLength} characters.";
            return false;
        }

        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length > MaxEntries)
        {
            error = $"The list has more than {MaxEntries} entries.";
            return false;
        }

        var result = new List<ClientListEntry>(parts.Length);
        foreach (var part in parts)
        {
            var entry = ParseEntry(part);
            if (entry is null)
            {
                error = $"'{Truncate(part)}' is not a host name, IP address, IPv4 wildcard pattern or CIDR block.";
                return false;
            }

            result.Add(entry);
        }

        entries = result;
        return true;
    }

    private static ClientListEntry? ParseEntry(string part)
    {
        if (part == "*")
        {
            return new ClientListEntry { Text = part, Kind = ClientListEntryKind.Any };
        }

        var slash = part.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            if (!IPAddress.TryParse(part.AsSpan(0, slash), out var network)
                || !int.TryParse(part.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var prefix))
            {
                return null;
            }

            var width = network.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
            if (prefix < 0 || prefix > width || (network.AddressFamily == AddressFamily.InterNetworkV6 && network.ScopeId != 0))
            {
                return null;
            }

            return new ClientListEntry { Text = part, Kind = ClientListEntryKind.Network, Address = Normalize(network, prefix), PrefixLength = prefix };
        }

        if (part.Contains(':', StringComparison.Ordinal))
        {
            return IPAddress.TryParse(part, out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6
                ? new ClientListEntry { Text = part, Kind = ClientListEntryKind.Address, Address = v6, PrefixLength = 128 }
                : null;
        }

        if (LooksLikeIpv4Pattern(part))
        {
            return ParseIpv4(part);
        }

        return IsHostNamePattern(part)
            ? new ClientListEntry { Text = part.ToLowerInvariant(), Kind = ClientListEntryKind.HostName }
            : null;
    }

    private static bool LooksLikeIpv4Pattern(string part)
    {
        foreach (var c in part)
        {
            if (!(char.IsAsciiDigit(c) || c == '.' || c == '*'))
            {
                return false;
            }
        }

        return part.Contains('.', StringComparison.Ordinal) || part.All(char.IsAsciiDigit);
    }

    private static ClientListEntry? ParseIpv4(string part)
    {
        var octets = part.Split('.');
        if (octets.Length is < 1 or > 4)
        {
            return null;
        }

        var values = new int[4];
        var wildcard = false;
        for (var i = 0; i < 4; i++)
        {
            if (i >= octets.Length)
            {
                // "10.1.*" covers the remaining octets only when the written pattern ended in a wildcard.
                if (!wildcard || octets[^1] != "*")
                {
                    return null;
                }

                values[i] = -1;
                continue;
            }

            if (octets[i] == "*")
            {
                values[i] = -1;
                wildcard = true;
            }
            else if (octets[i].Length is > 0 and <= 3
                && int.TryParse(octets[i], NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value <= 255)
            {
                values[i] = value;
            }
            else
            {
                return null;
            }
        }

        if (!wildcard)
        {
            return octets.Length == 4
                ? new ClientListEntry
                {
                    Text = part,
                    Kind = ClientListEntryKind.Address,
                    Address = new IPAddress(values.Select(v => (byte)v).ToArray()),
                    PrefixLength = 32,
                }
                : null;
        }

        return new ClientListEntry { Text = part, Kind = ClientListEntryKind.Ipv4Wildcard, Octets = values };
    }

    /// <summary>Host name labels of letters, digits, '-' and '_', with '*' allowed anywhere.</summary>
    private static bool IsHostNamePattern(string part)
    {
        if (part.Length > 253 || part.StartsWith('.') || part.EndsWith('.') || part.Contains("..", StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var label in part.Split('.'))
        {
            if (label.Length is 0 or > 63 || label.StartsWith('-') || label.EndsWith('-'))
            {
                return false;
            }

            foreach (var c in label)
            {
                if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '*'))
                {
                    return false;
                }
            }
        }

        return true;
    }

    private static IPAddress Normalize(IPAddress network, int prefix)
    {
        Span<byte> bytes = stackalloc byte[16];
        network.TryWriteBytes(bytes, out var length);
        for (var bit = prefix; bit < length * 8; bit++)
        {
            bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        }

        return new IPAddress(bytes[..length]);
    }

    private static string Truncate(string value) => value.Length <= 64 ? value : value[..64] + "…";
}
