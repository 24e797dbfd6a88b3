using System.Buffers.Binary;

namespace Platform.Gateway.Dtls;

/// <summary>
/// Where the parts of a ClientHello sit in the first record of a datagram, parsed by hand before any per-client state
/// exists: the record sequence number and message_seq a HelloVerifyRequest must echo or reset, the cookie, and the
/// fields a client repeats unchanged in its second hello (RFC 6347 section 4.2.1: client_version, random, session_id,
/// cipher_suites, compression_methods and the extensions), which the cookie covers. Every length is checked against
/// its container; anything inconsistent is malformed. The hello must be whole in one record, as a stateless cookie
/// exchange requires.
/// </summary>
internal readonly struct DtlsClientHello
{
    private const int MaxSessionIdLength = 32;
    private const int MaxCookieLength = 255;

    private DtlsClientHello(int bodyStart, int bodyLength, int cookieStart, int cookieLength, int extensionsStart, ulong recordSequence, ushort messageSequence)
    {
        ExtensionsStart = extensionsStart;
        BodyStart = bodyStart;
        BodyLength = bodyLength;
        CookieStart = cookieStart;
        CookieLength = cookieLength;
        RecordSequence = recordSequence;
        MessageSequence = messageSequence;
    }

    /// <summary>Offset of the ClientHello body (client_version) in the datagram.</summary>
    public int BodyStart { get; }

    public int BodyLength { get; }

    /// <summary>Offset of the cookie bytes (after its one-byte length) in the datagram.</summary>
    public int CookieStart { get; }

    public int CookieLength { get; }

    /// <summary>Offset of the first extension entry in the datagram (the body's end when there are none).</summary>
    public int ExtensionsStart { get; }

    /// <summary>The 48-bit record sequence number of the ClientHello's record.</summary>
    public ulong RecordSequence { get; }

    public ushort MessageSequence { get; }

    /// <summary>The cookie the client sent (empty in a first hello).</summary>
    public ReadOnlySpan<byte> Cookie(ReadOnlySpan<byte> datagram) => datagram.Slice(CookieStart, CookieLength);

    /// <summary>The body up to and including session_id: client_version, random, session_id.</summary>
    public ReadOnlySpan<byte> BeforeCookie(ReadOnlySpan<byte> datagram) => datagram[BodyStart..(CookieStart - 1)];

    /// <summary>The extension entries (type, length, data), each whole; empty when the hello has none.</summary>
    public ReadOnlySpan<byte> Extensions(ReadOnlySpan<byte> datagram) => datagram[ExtensionsStart..(BodyStart + BodyLength)];

    /// <summary>The body after the cookie: cipher_suites, compression_methods and the extensions, with their lengths.</summary>
    public ReadOnlySpan<byte> AfterCookie(ReadOnlySpan<byte> datagram) => datagram[(CookieStart + CookieLength)..(BodyStart + BodyLength)];

    /// <summary>Parses the first record of <paramref name="datagram"/>; false when it is not one whole, well-formed ClientHello.</summary>
    public static bool TryParse(ReadOnlySpan<byte> datagram, out DtlsClientHello hello)
    {
        hello = default;
        if (DtlsRecords.Classify(datagram) != DtlsDatagramKind.InitialClientHello)
        {
            return false;
        }

        var recordSequence = ((ulong)BinaryPrimitives.ReadUInt16BigEndian(datagram[5..]) << 32) | BinaryPrimitives.ReadUInt32BigEndian(datagram[7..]);
        var recordLength = BinaryPrimitives.ReadUInt16BigEndian(datagram[11..]);
        var handshake = datagram.Slice(DtlsRecords.RecordHeaderLength, recordLength);
        var messageSequence = BinaryPrimitives.ReadUInt16BigEndian(handshake[4..]);
        var bodyLength = (handshake[1] << 16) | (handshake[2] << 8) | handshake[3];
        var bodyStart = DtlsRecords.RecordHeaderLength + DtlsRecords.HandshakeHeaderLength;
        var body = datagram.Slice(bodyStart, bodyLength);

        // client_version(2) random(32) session_id<0..32> cookie<0..255> cipher_suites<2..2^16-2> compression_methods<1..2^8-1>
        var at = 2 + 32;
        if (!TryVector8(body, ref at, MaxSessionIdLength, out _))
        {
            return false;
        }

        var cookieStart = at + 1;
        if (!TryVector8(body, ref at, MaxCookieLength, out var cookieLength))
        {
            return false;
        }

        if (body.Length - at < 2)
        {
            return false;
        }

        var suites = BinaryPrimitives.ReadUInt16BigEndian(body[at..]);
        if (suites < 2 || suites % 2 != 0 || suites > body.Length - at - 2)
        {
            return false;
        }

        at += 2 + suites;
        if (!TryVector8(body, ref at, byte.MaxValue, out var compressions) || compressions < 1)
        {
            return false;
        }

        if (at != body.Length && !ExtensionsWellFormed(body[at..]))
        {
            return false;
        }

        var extensionsStart = bodyStart + Math.Min(at + 2, body.Length);
        hello = new DtlsClientHello(bodyStart, bodyLength, bodyStart + cookieStart, cookieLength, extensionsStart, recordSequence, messageSequence);
        return true;
    }

    /// <summary>An extensions block: a 16-bit length covering exactly the rest, made of whole (type, length, data) entries.</summary>
    private static bool ExtensionsWellFormed(ReadOnlySpan<byte> block)
    {
        if (block.Length < 2 || BinaryPrimitives.ReadUInt16BigEndian(block) != block.Length - 2)
        {
            return false;
        }

        var extensions = block[2..];
        while (extensions.Length > 0)
        {
            if (extensions.Length < 4)
            {
                return false;
            }

            var length = BinaryPrimitives.ReadUInt16BigEndian(extensions[2..]);
            if (length > extensions.Length - 4)
            {
                return false;
            }

            extensions = extensions[(4 + length)..];
        }

        return true;
    }

    private static bool TryVector8(ReadOnlySpan<byte> body, ref int at, int max, out int length)
    {
        length = 0;
        if (at >= body.Length)
        {
            return false;
        }

        length = body[at];
        if (length > max || length > body.Length - at - 1)
        {
            return false;
        }

        at += 1 + length;
        return true;
    }
}
