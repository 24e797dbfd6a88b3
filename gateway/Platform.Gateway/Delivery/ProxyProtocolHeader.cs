using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Platform.Gateway.ProxyProtocol;

namespace Platform.Gateway.Delivery;

/// <summary>
/// The PROXY protocol version 2 header (haproxy's proxy-protocol.txt, section 2.2) a forward backend with
/// <c>proxyProtocol: v2</c> receives before any client byte: command PROXY; TCP over IPv4 or IPv6 (UDP for DTLS
/// clients); source the client, destination the gateway address and port the client reached; then TLVs: AUTHORITY
/// (0x02), UNIQUE_ID (0x05, the connection id), SSL (0x20, for TLS, wss and DTLS clients, with the version, client
/// certificate CN and cipher sub-TLVs) and the platform's own 0xE0 listener kind, 0xE1 client certificate SHA-256,
/// 0xE2 client certificate subject and 0xE3 DTLS PSK identity. Text values longer than <see cref="MaxTextValue"/> bytes are
/// left out, so the header always fits its 16-bit length.
/// </summary>
internal static class ProxyProtocolHeader
{
    public const byte TypeAuthority = 0x02;
    public const byte TypeUniqueId = 0x05;
    public const byte TypeSsl = 0x20;
    public const byte SubtypeSslVersion = 0x21;
    public const byte SubtypeSslCommonName = 0x22;
    public const byte SubtypeSslCipher = 0x23;
    public const byte TypeListener = 0xE0;
    public const byte TypeClientCertificateSha256 = 0xE1;
    public const byte TypeClientCertificateSubject = 0xE2;
    public const byte TypePskIdentity = 0xE3;

    /// <summary>PP2_CLIENT_SSL: the client connected over TLS or DTLS.</summary>
    public const byte ClientSsl = 0x01;

    /// <summary>PP2_CLIENT_CERT_CONN: the client presented a certificate on this connection.</summary>
    public const byte ClientCertificateOnConnection = 0x02;

    /// <summary>Longest text value sent; a longer one (a huge certificate subject, say) is omitted rather than cut.</summary>
    public const int MaxTextValue = 1024;

    /// <summary>PP2_TYPE_UNIQUE_ID holds at most this many bytes.</summary>
    public const int MaxUniqueId = 128;

    /// <summary>The header for <paramref name="facts"/>; <paramref name="datagram"/> for a client that arrived over UDP (DTLS).</summary>
    public static byte[] Build(ConnectionFacts facts, bool datagram)
    {
        var (source, destination) = SameFamily(facts.Client.Address, facts.Local.Address);
        var ipv4 = source.AddressFamily == AddressFamily.InterNetwork;
        var body = new ArrayBufferWriter<byte>(256);

        var addressLength = ipv4 ? 4 : 16;
        var addresses = body.GetSpan((2 * addressLength) + 4);
        source.TryWriteBytes(addresses, out _);
        destination.TryWriteBytes(addresses[addressLength..], out _);
        BinaryPrimitives.WriteUInt16BigEndian(addresses[(2 * addressLength)..], (ushort)facts.Client.Port);
        BinaryPrimitives.WriteUInt16BigEndian(addresses[((2 * addressLength) + 2)..], (ushort)facts.Local.Port);
        body.Advance((2 * addressLength) + 4);

        Text(body, TypeAuthority, AuthorityOf(facts.Authority));
        if (Encoding.UTF8.GetByteCount(facts.ConnectionId) <= MaxUniqueId)
        {
            Tlv(body, TypeUniqueId, Encoding.UTF8.GetBytes(facts.ConnectionId));
        }

        var tls = facts.Tls;
        var certificate = tls?.ClientCertificateThumbprint is not null;
        if (tls is not null)
        {
            var ssl = new ArrayBufferWriter<byte>(128);
            var head = ssl.GetSpan(5);
            head[0] = (byte)(ClientSsl | (certificate ? ClientCertificateOnConnection : 0));
            // Zero only when the client presented a certificate and it verified (the gateway admits no other certificate).
            BinaryPrimitives.WriteUInt32BigEndian(head[1..], certificate && tls.ClientCertificateAccepted != false ? 0u : 1u);
            ssl.Advance(5);
            // TlsFacts name the version as the protocols (and OpenSSL) do: TlsProtocolNames.
            Text(ssl, SubtypeSslVersion, tls.Protocol);
            if (certificate)
            {
                Text(ssl, SubtypeSslCommonName, CommonName(tls.ClientCertificateSubject));
            }

            Text(ssl, SubtypeSslCipher, tls.CipherSuite);
            Tlv(body, TypeSsl, ssl.WrittenSpan);
        }

        Text(body, TypeListener, facts.Listener);
        if (certificate)
        {
            Text(body, TypeClientCertificateSha256, tls!.ClientCertificateThumbprint!.ToLowerInvariant());
            Text(body, TypeClientCertificateSubject, tls.ClientCertificateSubject);
        }

        Text(body, TypePskIdentity, tls?.PskIdentity);

        var header = new byte[ProxyV2.FixedLength + body.WrittenCount];
        ProxyV2.Signature.CopyTo(header);
        header[12] = ProxyV2.Version | ProxyV2.CommandProxy;
        header[13] = (byte)((ipv4 ? ProxyV2.FamilyInet : ProxyV2.FamilyInet6) | (datagram ? ProxyV2.TransportDatagram : ProxyV2.TransportStream));
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), (ushort)body.WrittenCount);
        body.WrittenSpan.CopyTo(header.AsSpan(ProxyV2.FixedLength));
        return header;
    }

    /// <summary>The first common name (OID 2.5.4.3) of a subject distinguished name.</summary>
    public static string? CommonName(string? subject)
    {
        if (string.IsNullOrEmpty(subject))
        {
            return null;
        }

        try
        {
            foreach (var rdn in new X500DistinguishedName(subject).EnumerateRelativeDistinguishedNames())
            {
                if (!rdn.HasMultipleElements && rdn.GetSingleElementType().Value == "2.5.4.3")
                {
                    return rdn.GetSingleElementValue();
                }
            }
        }
        catch (CryptographicException)
        {
            // The subject came from the runtime's own formatting; one it cannot read back has no CN to report, and the
            // full subject still travels in 0xE2.
        }

        return null;
    }

    /// <summary>Both addresses in one family: IPv4-mapped ones as IPv4, and IPv4 beside IPv6 mapped into IPv6.</summary>
    private static (IPAddress Source, IPAddress Destination) SameFamily(IPAddress source, IPAddress destination)
    {
        source = source.IsIPv4MappedToIPv6 ? source.MapToIPv4() : source;
        destination = destination.IsIPv4MappedToIPv6 ? destination.MapToIPv4() : destination;
        return source.AddressFamily == destination.AddressFamily
            ? (source, destination)
            : (source.MapToIPv6(), destination.MapToIPv6());
    }

    /// <summary>The host of a Host header or server name, without a port or IPv6 brackets.</summary>
    private static string? AuthorityOf(string? authority)
    {
        if (string.IsNullOrEmpty(authority))
        {
            return null;
        }

        if (authority.StartsWith('['))
        {
            var close = authority.IndexOf(']', StringComparison.Ordinal);
            return close > 1 ? authority[1..close] : authority;
        }

        var colon = authority.LastIndexOf(':');
        return colon >= 0 && authority.IndexOf(':', StringComparison.Ordinal) == colon ? authority[..colon] : authority;
    }

    private static void Text(ArrayBufferWriter<byte> writer, byte type, string? value)
    {
        if (string.IsNullOrEmpty(value) || Encoding.UTF8.GetByteCount(value) > MaxTextValue)
        {
            return;
        }

        Tlv(writer, type, Encoding.UTF8.GetBytes(value));
    }

    private static void Tlv(ArrayBufferWriter<byte> writer, byte type, ReadOnlySpan<byte> value)
    {
        var span = writer.GetSpan(3 + value.Length);
        span[0] = type;
        BinaryPrimitives.WriteUInt16BigEndian(span[1..], (ushort)value.Length);
        value.CopyTo(span[3..]);
        writer.Advance(3 + value.Length);
    }
}
