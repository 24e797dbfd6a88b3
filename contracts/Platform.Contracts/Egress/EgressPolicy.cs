using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Platform.Contracts.Egress;

/// <summary>
/// The operator's egress policy: which addresses a tenant's configuration may send traffic to (forward targets, and
/// webhook URLs once they are delivered). Every class of <see cref="EgressAddressClass"/> but <see cref="EgressAddressClass.Public"/>
/// is refused by default. <see cref="AllowedRanges"/> re-allow addresses of a refused class, never unspecified, multicast
/// or broadcast ones; <see cref="DeniedRanges"/> refuse whatever they cover, public or re-allowed. An IPv6 address that
/// carries an IPv4 address is classified by that IPv4 address, and a range matches either form. Immutable; shared by the
/// silo (literal targets, at write time) and the gateway (every resolved address, at connect time).
/// </summary>
public sealed class EgressPolicy
{
    private readonly IPNetwork[] _allowed;
    private readonly IPNetwork[] _denied;

    /// <summary>A policy with the given operator ranges.</summary>
    public EgressPolicy(IEnumerable<IPNetwork> allowedRanges, IEnumerable<IPNetwork> deniedRanges)
    {
        ArgumentNullException.ThrowIfNull(allowedRanges);
        ArgumentNullException.ThrowIfNull(deniedRanges);
        _allowed = [.. allowedRanges];
        _denied = [.. deniedRanges];
    }

    /// <summary>The default policy: public addresses only.</summary>
    public static EgressPolicy Default { get; } = new([], []);

    /// <summary>Ranges of refused classes the operator lets tenants reach (for example an internal backend network).</summary>
    public IReadOnlyList<IPNetwork> AllowedRanges => _allowed;

    /// <summary>Ranges no tenant may reach, public or not.</summary>
    public IReadOnlyList<IPNetwork> DeniedRanges => _denied;

    /// <summary>The decision on one address.</summary>
    public EgressVerdict Evaluate(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        address = WithoutScope(address);
        var embedded = EmbeddedIPv4(address);
        var kind = Classify(address);
        if (Covers(_denied, address, embedded))
        {
            return new EgressVerdict(false, kind, EgressVerdictReason.DeniedRange);
        }

        if (kind is EgressAddressClass.Unspecified or EgressAddressClass.Multicast or EgressAddressClass.Broadcast)
        {
            return new EgressVerdict(false, kind, EgressVerdictReason.NeverAllowed);
        }

        if (kind == EgressAddressClass.Public)
        {
            return new EgressVerdict(true, kind, EgressVerdictReason.Public);
        }

        return Covers(_allowed, address, embedded)
            ? new EgressVerdict(true, kind, EgressVerdictReason.AllowedRange)
            : new EgressVerdict(false, kind, EgressVerdictReason.DefaultDenied);
    }

    /// <summary>
    /// The decision on a host that names its addresses without DNS (an address, or a loopback name: allowed when one of
    /// its loopback addresses is); null for a DNS name, whose addresses are only known where it is resolved, and for an
    /// invalid host.
    /// </summary>
    public EgressVerdict? Evaluate(EgressHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        EgressVerdict? first = null;
        foreach (var address in host.LiteralAddresses)
        {
            var verdict = Evaluate(address);
            if (verdict.Allowed)
            {
                return verdict;
            }

            first ??= verdict;
        }

        return first;
    }

    /// <summary>Whether one of the operator's <see cref="AllowedRanges"/> names the address (or the IPv4 address it carries).</summary>
    public bool IsInAllowedRanges(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        address = WithoutScope(address);
        return Covers(_allowed, address, EmbeddedIPv4(address));
    }

    /// <summary>The class of an address; IPv6 forms that carry IPv4 take the class of the IPv4 address.</summary>
    public static EgressAddressClass Classify(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            Span<byte> v4 = stackalloc byte[4];
            address.TryWriteBytes(v4, out _);
            return ClassifyIPv4(BinaryPrimitives.ReadUInt32BigEndian(v4));
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return EgressAddressClass.Reserved;
        }

        Span<byte> b = stackalloc byte[16];
        address.TryWriteBytes(b, out _);
        if (!b[..15].ContainsAnyExcept((byte)0))
        {
            return b[15] switch
            {
                0 => EgressAddressClass.Unspecified,
                1 => EgressAddressClass.Loopback,
                _ => ClassifyIPv4(BinaryPrimitives.ReadUInt32BigEndian(b[12..])),
            };
        }

        if (EmbeddedIPv4(b) is { } carried)
        {
            return ClassifyIPv4(carried);
        }

        return b switch
        {
            [0xff, ..] => EgressAddressClass.Multicast,
            [var b0, ..] when (b0 & 0xfe) == 0xfc => EgressAddressClass.UniqueLocal,
            [0xfe, var b1, ..] when (b1 & 0xc0) == 0x80 => EgressAddressClass.LinkLocal,
            [0xfe, var b1, ..] when (b1 & 0xc0) == 0xc0 => EgressAddressClass.SiteLocal,
            [0x00, 0x64, 0xff, 0x9b, 0x00, 0x01, ..] => EgressAddressClass.Reserved,
            [0x01, 0x00, 0, 0, 0, 0, 0, 0, ..] => EgressAddressClass.Reserved,
            [0x20, 0x01, 0x00, 0x02, 0x00, 0x00, ..] => EgressAddressClass.Benchmarking,
            [0x20, 0x01, 0x00, var b3, ..] when (b3 & 0xf0) is 0x10 or 0x20 => EgressAddressClass.Reserved,
            [0x20, 0x01, 0x0d, 0xb8, ..] => EgressAddressClass.Documentation,
            [0x3f, 0xff, var b2, ..] when (b2 & 0xf0) == 0 => EgressAddressClass.Documentation,
            [0x5f, 0x00, ..] => EgressAddressClass.Reserved,
            [var b0, ..] when (b0 & 0xe0) != 0x20 => EgressAddressClass.Reserved,
            _ => EgressAddressClass.Public,
        };
    }

    /// <summary>
    /// The IPv4 address an IPv6 address carries: IPv4-mapped <c>::ffff:0:0/96</c>, IPv4-compatible <c>::/96</c> (besides
    /// <c>::</c> and <c>::1</c>), NAT64 <c>64:ff9b::/96</c>, 6to4 <c>2002::/16</c> (bits 16..47) or the Teredo client
    /// <c>2001::/32</c> (the last 32 bits inverted); null for others and for IPv4.
    /// </summary>
    public static IPAddress? EmbeddedIPv4(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return null;
        }

        Span<byte> b = stackalloc byte[16];
        address.TryWriteBytes(b, out _);
        if (!b[..15].ContainsAnyExcept((byte)0) && b[15] <= 1)
        {
            return null;
        }

        if (EmbeddedIPv4(b) is not { } carried)
        {
            return null;
        }

        Span<byte> v4 = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(v4, carried);
        return new IPAddress(v4);
    }

    /// <summary>
    /// Parses one operator range: <c>a.b.c.d/len</c>, <c>ipv6/len</c>, or a single address. IPv4 must be written as four
    /// decimal parts without leading zeros, and the address must have no bits set past the prefix, so that an entry means
    /// exactly what it reads as.
    /// </summary>
    public static bool TryParseRange(string? text, out IPNetwork range, out string error)
    {
        range = default;
        text = text?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            error = "An empty range.";
            return false;
        }

        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var addressText = slash < 0 ? text : text[..slash];
        if (addressText.Contains('%', StringComparison.Ordinal) || !IPAddress.TryParse(addressText, out var address))
        {
            error = $"'{text}' is not an address or CIDR range.";
            return false;
        }

        if (address.AddressFamily == AddressFamily.InterNetwork && !IsDottedQuad(addressText))
        {
            error = $"'{text}': write IPv4 addresses as four decimal numbers (a.b.c.d).";
            return false;
        }

        var maximum = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var prefix = maximum;
        if (slash >= 0 && (!int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix > maximum))
        {
            error = $"'{text}': the prefix length must be 0..{maximum}.";
            return false;
        }

        var network = Masked(address, prefix);
        if (!network.Equals(address))
        {
            error = $"'{text}' has bits set past its prefix; did you mean {network}/{prefix}?";
            return false;
        }

        range = new IPNetwork(network, prefix);

        error = "";
        return true;
    }

    private static EgressAddressClass ClassifyIPv4(uint a) => a switch
    {
        0 => EgressAddressClass.Unspecified,
        0xFFFFFFFF => EgressAddressClass.Broadcast,
        _ when a >> 24 == 0 => EgressAddressClass.ThisNetwork,
        _ when a >> 24 == 10 => EgressAddressClass.Private,
        _ when (a & 0xFFC00000) == 0x64400000 => EgressAddressClass.SharedAddressSpace,
        _ when a >> 24 == 127 => EgressAddressClass.Loopback,
        _ when (a & 0xFFFF0000) == 0xA9FE0000 => EgressAddressClass.LinkLocal,
        _ when (a & 0xFFF00000) == 0xAC100000 => EgressAddressClass.Private,
        _ when (a & 0xFFFFFF00) == 0xC0000000 => EgressAddressClass.ProtocolAssignments,
        _ when (a & 0xFFFFFF00) == 0xC0000200 => EgressAddressClass.Documentation,
        _ when (a & 0xFFFFFF00) == 0xC0586300 => EgressAddressClass.Reserved,
        _ when (a & 0xFFFF0000) == 0xC0A80000 => EgressAddressClass.Private,
        _ when (a & 0xFFFE0000) == 0xC6120000 => EgressAddressClass.Benchmarking,
        _ when (a & 0xFFFFFF00) == 0xC6336400 => EgressAddressClass.Documentation,
        _ when (a & 0xFFFFFF00) == 0xCB007100 => EgressAddressClass.Documentation,
        _ when (a & 0xF0000000) == 0xE0000000 => EgressAddressClass.Multicast,
        _ when (a & 0xF0000000) == 0xF0000000 => EgressAddressClass.Reserved,
        _ => EgressAddressClass.Public,
    };

    /// <summary>The carried IPv4 address (host order) of the IPv6 bytes <paramref name="b"/>, for the forms <see cref="EmbeddedIPv4(IPAddress)"/> lists.</summary>
    private static uint? EmbeddedIPv4(ReadOnlySpan<byte> b)
    {
        if (!b[..10].ContainsAnyExcept((byte)0) && b[10] == 0xff && b[11] == 0xff)
        {
            return BinaryPrimitives.ReadUInt32BigEndian(b[12..]);
        }

        if (!b[..12].ContainsAnyExcept((byte)0))
        {
            return BinaryPrimitives.ReadUInt32BigEndian(b[12..]);
        }

        if (b is [0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, ..])
        {
            return BinaryPrimitives.ReadUInt32BigEndian(b[12..]);
        }

        if (b is [0x20, 0x02, ..])
        {
            return BinaryPrimitives.ReadUInt32BigEndian(b[2..]);
        }

        if (b is [0x20, 0x01, 0x00, 0x00, ..])
        {
            return ~BinaryPrimitives.ReadUInt32BigEndian(b[12..]);
        }

        return null;
    }

    private static bool Covers(IPNetwork[] ranges, IPAddress address, IPAddress? embedded)
    {
        foreach (var range in ranges)
        {
            if (range.Contains(address) || (embedded is not null && range.Contains(embedded)))
            {
                return true;
            }
        }

        return false;
    }

    private static IPAddress WithoutScope(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0 ? new IPAddress(address.GetAddressBytes()) : address;

    private static bool IsDottedQuad(string text)
    {
        var parts = text.Split('.');
        return parts.Length == 4 && parts.All(p => p.Length is >= 1 and <= 3 && p.All(char.IsAsciiDigit) && (p.Length == 1 || p[0] != '0'));
    }

    private static IPAddress Masked(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }

        return new IPAddress(bytes);
    }
}
