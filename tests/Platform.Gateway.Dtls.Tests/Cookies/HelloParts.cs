using System.Buffers.Binary;

namespace Platform.Gateway.Dtls.Tests.Cookies;

/// <summary>
/// A DTLS ClientHello taken apart into its fields (test side, written independently of the gateway's parser), so that a
/// test can change one field, add a cookie or an extension, and put it back together with every length consistent.
/// </summary>
internal sealed record HelloParts(
    ulong RecordSequence,
    ushort MessageSequence,
    byte[] VersionAndRandom,
    byte[] SessionId,
    byte[] Cookie,
    byte[] CipherSuites,
    byte[] Compression,
    byte[] Extensions)
{
    public const byte HandshakeRecord = 22;
    public const byte ClientHelloType = 1;
    public const byte ServerHelloType = 2;
    public const byte HelloVerifyRequestType = 3;

    public static HelloParts Parse(byte[] datagram)
    {
        var sequence = ((ulong)BinaryPrimitives.ReadUInt16BigEndian(datagram.AsSpan(5)) << 32) | BinaryPrimitives.ReadUInt32BigEndian(datagram.AsSpan(7));
        var messageSequence = BinaryPrimitives.ReadUInt16BigEndian(datagram.AsSpan(13 + 4));
        var body = datagram.AsSpan(13 + 12, Uint24(datagram.AsSpan(13 + 1)));
        var versionAndRandom = body[..34].ToArray();
        var at = 34;
        var sessionId = body.Slice(at + 1, body[at]).ToArray();
        at += 1 + sessionId.Length;
        var cookie = body.Slice(at + 1, body[at]).ToArray();
        at += 1 + cookie.Length;
        var suites = body.Slice(at + 2, BinaryPrimitives.ReadUInt16BigEndian(body[at..])).ToArray();
        at += 2 + suites.Length;
        var compression = body.Slice(at + 1, body[at]).ToArray();
        at += 1 + compression.Length;
        var extensions = at < body.Length ? body.Slice(at + 2, BinaryPrimitives.ReadUInt16BigEndian(body[at..])).ToArray() : [];
        return new HelloParts(sequence, messageSequence, versionAndRandom, sessionId, cookie, suites, compression, extensions);
    }

    /// <summary>The same hello with one more extension at the end of the list.</summary>
    public HelloParts WithExtension(ushort type, byte[] data)
    {
        var entry = new byte[4 + data.Length];
        BinaryPrimitives.WriteUInt16BigEndian(entry, type);
        BinaryPrimitives.WriteUInt16BigEndian(entry.AsSpan(2), (ushort)data.Length);
        data.CopyTo(entry, 4);
        return this with { Extensions = [.. Extensions, .. entry] };
    }

    /// <summary>The second hello of the exchange: the cookie in, message_seq 1, the next record sequence number.</summary>
    public HelloParts Answer(byte[] cookie) => this with { Cookie = cookie, MessageSequence = 1, RecordSequence = RecordSequence + 1 };

    public byte[] Build(Func<byte[], byte[]>? alterBody = null)
    {
        var body = new List<byte>();
        body.AddRange(VersionAndRandom);
        body.Add((byte)SessionId.Length);
        body.AddRange(SessionId);
        body.Add((byte)Cookie.Length);
        body.AddRange(Cookie);
        body.Add((byte)(CipherSuites.Length >> 8));
        body.Add((byte)CipherSuites.Length);
        body.AddRange(CipherSuites);
        body.Add((byte)Compression.Length);
        body.AddRange(Compression);
        body.Add((byte)(Extensions.Length >> 8));
        body.Add((byte)Extensions.Length);
        body.AddRange(Extensions);
        var bytes = alterBody is null ? body.ToArray() : alterBody(body.ToArray());
        return Wrap(bytes);
    }

    /// <summary>Record and handshake headers around <paramref name="body"/> (one whole, unfragmented ClientHello).</summary>
    public byte[] Wrap(byte[] body)
    {
        var datagram = new byte[13 + 12 + body.Length];
        datagram[0] = HandshakeRecord;
        datagram[1] = 0xFE;
        datagram[2] = 0xFF;
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(5), (ushort)(RecordSequence >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(datagram.AsSpan(7), (uint)RecordSequence);
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(11), (ushort)(12 + body.Length));
        datagram[13] = ClientHelloType;
        WriteUint24(datagram.AsSpan(14), body.Length);
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(17), MessageSequence);
        WriteUint24(datagram.AsSpan(22), body.Length);
        body.CopyTo(datagram, 25);
        return datagram;
    }

    /// <summary>The handshake message type of a datagram's first record, or -1 when it is not an epoch-0 handshake record.</summary>
    public static int MessageType(ReadOnlySpan<byte> datagram) =>
        datagram.Length > 13 && datagram[0] == HandshakeRecord && datagram[3] == 0 && datagram[4] == 0 ? datagram[13] : -1;

    /// <summary>The cookie of a HelloVerifyRequest (record, handshake header, server_version, cookie).</summary>
    public static byte[] CookieOf(ReadOnlySpan<byte> helloVerifyRequest) => helloVerifyRequest.Slice(13 + 12 + 3, helloVerifyRequest[13 + 12 + 2]).ToArray();

    public static ulong RecordSequenceOf(ReadOnlySpan<byte> datagram) =>
        ((ulong)BinaryPrimitives.ReadUInt16BigEndian(datagram[5..]) << 32) | BinaryPrimitives.ReadUInt32BigEndian(datagram[7..]);

    public static ushort MessageSequenceOf(ReadOnlySpan<byte> datagram) => BinaryPrimitives.ReadUInt16BigEndian(datagram[17..]);

    private static int Uint24(ReadOnlySpan<byte> span) => (span[0] << 16) | (span[1] << 8) | span[2];

    private static void WriteUint24(Span<byte> span, int value)
    {
        span[0] = (byte)(value >> 16);
        span[1] = (byte)(value >> 8);
        span[2] = (byte)value;
    }
}
