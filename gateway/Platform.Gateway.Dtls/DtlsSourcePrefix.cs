using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Platform.Gateway.Dtls;

/// <summary>
/// The unit one sender is counted in by the half-open caps: an IPv4 address (/32), or the /64 an IPv6 address is in,
/// since a single IPv6 host is handed a whole /64 and can send from any address in it. IPv4-mapped IPv6 addresses
/// (a dual-mode socket) count as the IPv4 address they carry.
/// </summary>
internal readonly record struct DtlsSourcePrefix
{
    private DtlsSourcePrefix(bool isIPv6, ulong bits)
    {
        IsIPv6 = isIPv6;
        Bits = bits;
    }

    /// <summary>Whether this is an IPv6 /64 (else an IPv4 /32).</summary>
    public bool IsIPv6 { get; }

    /// <summary>The prefix bits: the IPv4 address, or the upper 64 bits of the IPv6 address, in network order.</summary>
    public ulong Bits { get; }

    public static DtlsSourcePrefix Of(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out var written))
        {
            throw new ArgumentException("The address could not be read.", nameof(address));
        }

        return address.AddressFamily == AddressFamily.InterNetworkV6 && written == 16
            ? new DtlsSourcePrefix(isIPv6: true, BinaryPrimitives.ReadUInt64BigEndian(bytes))
            : new DtlsSourcePrefix(isIPv6: false, BinaryPrimitives.ReadUInt32BigEndian(bytes));
    }

    public override string ToString()
    {
        if (!IsIPv6)
        {
            Span<byte> v4 = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(v4, (uint)Bits);
            return new IPAddress(v4) + "/32";
        }

        Span<byte> v6 = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(v6, Bits);
        return new IPAddress(v6) + "/64";
    }
}
