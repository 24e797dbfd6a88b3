using System.Buffers.Binary;
using System.Text;

namespace Platform.Gateway.Dtls;

/// <summary>What a datagram looks like at the DTLS record layer, judged before any per-client state exists.</summary>
internal enum DtlsDatagramKind
{
    Malformed,
    WrongVersion,
    Truncated,
    InitialClientHello,
    OtherRecord,
}

/// <summary>Minimal checks on the first record of a datagram (RFC 6347 4.1 and 4.2.2); OpenSSL does the full parse.</summary>
internal static class DtlsRecords
{
    public const int RecordHeaderLength = 13;
    public const int HandshakeHeaderLength = 12;

    public static DtlsDatagramKind Classify(ReadOnlySpan<byte> datagram)
    {
        if (datagram.Length < RecordHeaderLength)
        {
            return DtlsDatagramKind.Malformed;
        }

        var contentType = datagram[0];
        if (contentType is < 20 or > 25)
        {
            return DtlsDatagramKind.Malformed;
        }

        // DTLS 1.0 is 0xFEFF, 1.2 is 0xFEFD; ClientHellos may carry 1.0 in the record layer.
        if (datagram[1] != 0xFE || datagram[2] is not (0xFF or 0xFD))
        {
            return DtlsDatagramKind.WrongVersion;
        }

        var length = BinaryPrimitives.ReadUInt16BigEndian(datagram[11..]);
        if (length > datagram.Length - RecordHeaderLength)
        {
            return DtlsDatagramKind.Truncated;
        }

        var epoch = BinaryPrimitives.ReadUInt16BigEndian(datagram[3..]);
        if (contentType != 22 || epoch != 0)
        {
            return DtlsDatagramKind.OtherRecord;
        }

        var body = datagram.Slice(RecordHeaderLength, length);
        if (body.Length < HandshakeHeaderLength || body[0] != 1)
        {
            return body.Length < HandshakeHeaderLength ? DtlsDatagramKind.Truncated : DtlsDatagramKind.OtherRecord;
        }

        var messageLength = ReadUInt24(body[1..]);
        var fragmentOffset = ReadUInt24(body[6..]);
        var fragmentLength = ReadUInt24(body[9..]);
        // The cookie exchange needs the whole ClientHello in one record, as OpenSSL's DTLSv1_listen does.
        if (fragmentOffset != 0 || fragmentLength != messageLength || fragmentLength > body.Length - HandshakeHeaderLength)
        {
            return DtlsDatagramKind.Truncated;
        }

        return DtlsDatagramKind.InitialClientHello;
    }

    /// <summary>
    /// The PSK identity of a ClientKeyExchange in the datagram's cleartext (epoch 0) handshake records: the
    /// first fragment of the message starts with it (RFC 4279 section 2, RFC 5489 section 2, a 16-bit length
    /// and the identity), for every PSK key exchange. False when there is none or it is cut short.
    /// </summary>
    public static bool TryReadPskIdentity(ReadOnlySpan<byte> datagram, out string identity)
    {
        identity = "";
        while (datagram.Length >= RecordHeaderLength)
        {
            var length = BinaryPrimitives.ReadUInt16BigEndian(datagram[11..]);
            if (length > datagram.Length - RecordHeaderLength)
            {
                return false;
            }

            var body = datagram.Slice(RecordHeaderLength, length);
            if (datagram[0] == 22 && BinaryPrimitives.ReadUInt16BigEndian(datagram[3..]) == 0)
            {
                while (body.Length >= HandshakeHeaderLength)
                {
                    var fragmentOffset = ReadUInt24(body[6..]);
                    var fragmentLength = ReadUInt24(body[9..]);
                    if (fragmentLength > body.Length - HandshakeHeaderLength)
                    {
                        return false;
                    }

                    var fragment = body.Slice(HandshakeHeaderLength, fragmentLength);
                    if (body[0] == ClientKeyExchange && fragmentOffset == 0 && fragment.Length >= 2)
                    {
                        var identityLength = BinaryPrimitives.ReadUInt16BigEndian(fragment);
                        if (identityLength == 0 || identityLength > fragment.Length - 2 || fragment.Slice(2, identityLength).Contains((byte)0))
                        {
                            return false;
                        }

                        identity = Encoding.UTF8.GetString(fragment.Slice(2, identityLength));
                        return true;
                    }

                    body = body[(HandshakeHeaderLength + fragmentLength)..];
                }
            }

            datagram = datagram[(RecordHeaderLength + length)..];
        }

        return false;
    }

    private const byte ClientKeyExchange = 16;

    private static int ReadUInt24(ReadOnlySpan<byte> span) => (span[0] << 16) | (span[1] << 8) | span[2];
}
