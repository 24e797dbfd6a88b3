using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Platform.Gateway.ProxyProtocol;

/// <summary>
/// Strict reader of the PROXY protocol (haproxy's proxy-protocol.txt) at the start of a connection: version 1 (one text
/// line of at most <see cref="MaxV1Length"/> bytes: <c>TCP4</c>, <c>TCP6</c> or <c>UNKNOWN</c>) and version 2 (binary:
/// PROXY and LOCAL, IPv4 and IPv6 over stream, TLVs walked and length-checked but not used), a whole v2 header being at
/// most <see cref="MaxV2Length"/> bytes. Anything else, or a header broken anywhere, is malformed: the caller closes the
/// connection. Decides as early as the bytes allow, so a client that sends garbage is not waited for.
/// </summary>
internal static class ProxyHeaderParser
{
    /// <summary>The longest version 1 line, CRLF included (the specification's own bound).</summary>
    public const int MaxV1Length = 107;

    /// <summary>
    /// The longest version 2 header read: the 16 fixed bytes and at most 520 of addresses and TLVs. The specification
    /// sizes a receiver's buffer at 536 bytes for the v1 line and the largest address block (UNIX, 216 bytes) with room
    /// for TLVs; load balancers send far less (an IPv6 block is 36 bytes, HAProxy's SSL TLVs a few dozen more).
    /// </summary>
    public const int MaxV2Length = 536;

    /// <summary>The most bytes a caller ever needs to hand over: either version's limit.</summary>
    public const int MaxLength = MaxV2Length;

    private static ReadOnlySpan<byte> V1Prefix => "PROXY "u8;

    /// <summary>Reads the header at the start of <paramref name="data"/>; <paramref name="header"/> is set when Complete.</summary>
    public static ProxyHeaderStatus TryParse(ReadOnlySpan<byte> data, out ProxyHeader? header)
    {
        header = null;
        if (data.IsEmpty)
        {
            return ProxyHeaderStatus.Incomplete;
        }

        return data[0] switch
        {
            (byte)'P' => ParseV1(data, out header),
            0x0D => ParseV2(data, out header),
            _ => ProxyHeaderStatus.Malformed,
        };
    }

    /// <summary>Whether <paramref name="data"/> starts like a PROXY header of either version (a few bytes suffice).</summary>
    public static bool LooksLikeHeader(ReadOnlySpan<byte> data) =>
        data.Length >= V1Prefix.Length && data.StartsWith(V1Prefix)
        || data.Length >= ProxyV2.Signature.Length && data.StartsWith(ProxyV2.Signature);

    private static ProxyHeaderStatus ParseV1(ReadOnlySpan<byte> data, out ProxyHeader? header)
    {
        header = null;
        var window = data[..Math.Min(data.Length, MaxV1Length)];
        var prefix = Math.Min(window.Length, V1Prefix.Length);
        if (!window[..prefix].SequenceEqual(V1Prefix[..prefix]))
        {
            return ProxyHeaderStatus.Malformed;
        }

        var end = window.IndexOf("\r\n"u8);
        var line = end < 0 ? window : window[..end];
        // Only printable ASCII and spaces before the CRLF; a lone CR may be the first half of one still to come.
        var body = line.EndsWith("\r"u8) && end < 0 ? line[..^1] : line;
        foreach (var b in body)
        {
            if (b is < 0x20 or > 0x7E)
            {
                return ProxyHeaderStatus.Malformed;
            }
        }

        if (end < 0)
        {
            return data.Length >= MaxV1Length ? ProxyHeaderStatus.Oversized : ProxyHeaderStatus.Incomplete;
        }

        var fields = Encoding.ASCII.GetString(line[V1Prefix.Length..]).Split(' ');
        var length = end + 2;
        if (fields[0] == "UNKNOWN")
        {
            // The rest of the line is to be ignored: the sender could not tell (or would not say) who connected.
            header = new ProxyHeader(1, length, null, null);
            return ProxyHeaderStatus.Complete;
        }

        var family = fields[0] switch
        {
            "TCP4" => AddressFamily.InterNetwork,
            "TCP6" => AddressFamily.InterNetworkV6,
            _ => AddressFamily.Unknown,
        };
        if (family == AddressFamily.Unknown || fields.Length != 5
            || !TryAddress(fields[1], family, out var source) || !TryAddress(fields[2], family, out var destination)
            || !TryPort(fields[3], out var sourcePort) || !TryPort(fields[4], out var destinationPort))
        {
            return ProxyHeaderStatus.Malformed;
        }

        header = new ProxyHeader(1, length, new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort));
        return ProxyHeaderStatus.Complete;
    }

    private static ProxyHeaderStatus ParseV2(ReadOnlySpan<byte> data, out ProxyHeader? header)
    {
        header = null;
        var signature = ProxyV2.Signature;
        var prefix = Math.Min(data.Length, signature.Length);
        if (!data[..prefix].SequenceEqual(signature[..prefix]))
        {
            return ProxyHeaderStatus.Malformed;
        }

        if (data.Length > 12 && (data[12] & 0xF0) != ProxyV2.Version || data.Length > 12 && (data[12] & 0x0F) > ProxyV2.CommandProxy)
        {
            return ProxyHeaderStatus.Malformed;
        }

        if (data.Length > 13 && ((data[13] & 0xF0) > ProxyV2.FamilyUnix || (data[13] & 0x0F) > ProxyV2.TransportDatagram))
        {
            return ProxyHeaderStatus.Malformed;
        }

        if (data.Length < ProxyV2.FixedLength)
        {
            return ProxyHeaderStatus.Incomplete;
        }

        var bodyLength = BinaryPrimitives.ReadUInt16BigEndian(data[14..]);
        var length = ProxyV2.FixedLength + bodyLength;
        if (length > MaxV2Length)
        {
            return ProxyHeaderStatus.Oversized;
        }

        if (data.Length < length)
        {
            return ProxyHeaderStatus.Incomplete;
        }

        var body = data[ProxyV2.FixedLength..length];
        var command = data[12] & 0x0F;
        var family = data[13] & 0xF0;
        var transport = data[13] & 0x0F;
        if (command == ProxyV2.CommandLocal || family == ProxyV2.FamilyUnspecified)
        {
            // LOCAL: the balancer speaks for itself; an unspecified family: the addresses are unknown. Either way the
            // block is skipped and the connection's own addresses stand.
            header = new ProxyHeader(2, length, null, null);
            return ProxyHeaderStatus.Complete;
        }

        if (family == ProxyV2.FamilyUnix || transport != ProxyV2.TransportStream)
        {
            return ProxyHeaderStatus.Unsupported;
        }

        var ipv4 = family == ProxyV2.FamilyInet;
        var addressLength = ipv4 ? 4 : 16;
        var block = ipv4 ? ProxyV2.Inet4AddressLength : ProxyV2.Inet6AddressLength;
        if (body.Length < block || !TlvsFit(body[block..]))
        {
            return ProxyHeaderStatus.Malformed;
        }

        var source = new IPAddress(body[..addressLength]);
        var destination = new IPAddress(body[addressLength..(2 * addressLength)]);
        var sourcePort = BinaryPrimitives.ReadUInt16BigEndian(body[(2 * addressLength)..]);
        var destinationPort = BinaryPrimitives.ReadUInt16BigEndian(body[((2 * addressLength) + 2)..]);
        header = new ProxyHeader(2, length, new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort));
        return ProxyHeaderStatus.Complete;
    }

    /// <summary>Whether the TLVs after the address block are whole: each a type, a 16-bit length and that many bytes, ending exactly.</summary>
    private static bool TlvsFit(ReadOnlySpan<byte> tlvs)
    {
        while (!tlvs.IsEmpty)
        {
            if (tlvs.Length < 3)
            {
                return false;
            }

            var next = 3 + BinaryPrimitives.ReadUInt16BigEndian(tlvs[1..]);
            if (next > tlvs.Length)
            {
                return false;
            }

            tlvs = tlvs[next..];
        }

        return true;
    }

    /// <summary>An address in its textual form and only that: dotted quad for TCP4 (no leading zeros), RFC 4291 text for TCP6.</summary>
    private static bool TryAddress(string text, AddressFamily family, out IPAddress address)
    {
        address = IPAddress.None;
        if (family == AddressFamily.InterNetwork)
        {
            var parts = text.Split('.');
            if (parts.Length != 4 || !parts.All(static p => IsDecimal(p, 3) && int.Parse(p, CultureInfo.InvariantCulture) <= 255))
            {
                return false;
            }
        }
        else if (text.Length is 0 or > 45 || !text.All(static c => char.IsAsciiHexDigit(c) || c is ':' or '.') || !text.Contains(':', StringComparison.Ordinal))
        {
            return false;
        }

        return IPAddress.TryParse(text, out address!) && address.AddressFamily == family;
    }

    private static bool TryPort(string text, out int port)
    {
        port = 0;
        return IsDecimal(text, 5) && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port <= 65535;
    }

    /// <summary>1..<paramref name="maxDigits"/> ASCII digits without a leading zero (0 itself is fine).</summary>
    private static bool IsDecimal(string text, int maxDigits) =>
        text.Length >= 1 && text.Length <= maxDigits && text.All(char.IsAsciiDigit) && (text.Length == 1 || text[0] != '0');
}
