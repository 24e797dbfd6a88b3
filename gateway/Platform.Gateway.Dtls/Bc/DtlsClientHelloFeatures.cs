using System.Buffers.Binary;
using System.Text;

namespace Platform.Gateway.Dtls.Bc;

/// <summary>
/// What a ClientHello (one whole, unfragmented epoch-0 record, as the cookie exchange requires) offers that decides its
/// engine: the SNI host name, and the extensions only the BouncyCastle engine serves: <c>heartbeat</c> (15),
/// <c>client_certificate_type</c> (19) with RawPublicKey, <c>server_certificate_type</c> (20) and
/// <c>connection_id</c> (54). Parsed by hand, before any per-client state exists; a malformed hello offers nothing.
/// </summary>
internal readonly record struct DtlsClientHelloFeatures(string? ServerName, bool Heartbeat, bool ConnectionId, bool ClientRawPublicKey, bool ServerCertificateType)
{
    private const int ExtServerName = 0;
    private const int ExtHeartbeat = 15;
    private const int ExtClientCertificateType = 19;
    private const int ExtServerCertificateType = 20;
    private const int ExtConnectionId = 54;
    private const byte CertificateTypeRawPublicKey = 2;

    /// <summary>Whether the hello offers anything only the BouncyCastle engine serves.</summary>
    public bool OffersAny => Heartbeat || ConnectionId || ClientRawPublicKey;

    /// <summary>Reads the first record of <paramref name="datagram"/>; false when it is not a whole ClientHello.</summary>
    public static bool TryParse(ReadOnlySpan<byte> datagram, out DtlsClientHelloFeatures features)
    {
        features = default;
        try
        {
            return TryParseCore(datagram, out features);
        }
        catch (Exception ex) when (ex is ArgumentOutOfRangeException or IndexOutOfRangeException)
        {
            // A length field pointing past its container: malformed.
            features = default;
            return false;
        }
    }

    private static bool TryParseCore(ReadOnlySpan<byte> datagram, out DtlsClientHelloFeatures features)
    {
        features = default;
        if (DtlsRecords.Classify(datagram) != DtlsDatagramKind.InitialClientHello)
        {
            return false;
        }

        var recordLength = BinaryPrimitives.ReadUInt16BigEndian(datagram[11..]);
        var handshake = datagram.Slice(DtlsRecords.RecordHeaderLength, recordLength);
        var bodyLength = (handshake[1] << 16) | (handshake[2] << 8) | handshake[3];
        var body = handshake.Slice(DtlsRecords.HandshakeHeaderLength, bodyLength);

        // client_version(2) random(32) session_id<0..32> cookie<0..255> cipher_suites<2..> compression_methods<1..>
        var at = 2 + 32;
        at += 1 + body[at];
        at += 1 + body[at];
        at += 2 + BinaryPrimitives.ReadUInt16BigEndian(body[at..]);
        at += 1 + body[at];
        if (at == body.Length)
        {
            // No extensions at all.
            return true;
        }

        var extensions = body.Slice(at + 2, BinaryPrimitives.ReadUInt16BigEndian(body[at..]));
        string? serverName = null;
        bool heartbeat = false, connectionId = false, clientRpk = false, serverType = false;
        while (extensions.Length >= 4)
        {
            var type = BinaryPrimitives.ReadUInt16BigEndian(extensions);
            var data = extensions.Slice(4, BinaryPrimitives.ReadUInt16BigEndian(extensions[2..]));
            switch (type)
            {
                case ExtServerName:
                    serverName = ReadHostName(data);
                    break;
                case ExtHeartbeat:
                    heartbeat = true;
                    break;
                case ExtClientCertificateType:
                    clientRpk = data.Length >= 1 && data.Slice(1, data[0]).Contains(CertificateTypeRawPublicKey);
                    break;
                case ExtServerCertificateType:
                    serverType = true;
                    break;
                case ExtConnectionId:
                    connectionId = true;
                    break;
            }

            extensions = extensions[(4 + data.Length)..];
        }

        features = new DtlsClientHelloFeatures(serverName, heartbeat, connectionId, clientRpk, serverType);
        return true;
    }

    /// <summary>The host_name entry of a server_name extension (RFC 6066 section 3), or null.</summary>
    private static string? ReadHostName(ReadOnlySpan<byte> data)
    {
        var list = data.Slice(2, BinaryPrimitives.ReadUInt16BigEndian(data));
        while (list.Length >= 3)
        {
            var length = BinaryPrimitives.ReadUInt16BigEndian(list[1..]);
            var name = list.Slice(3, length);
            if (list[0] == 0)
            {
                return name.Length == 0 || name.Contains((byte)0) ? null : Encoding.ASCII.GetString(name);
            }

            list = list[(3 + length)..];
        }

        return null;
    }
}
