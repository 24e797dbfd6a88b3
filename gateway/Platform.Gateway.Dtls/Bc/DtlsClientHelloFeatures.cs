using System.Buffers.Binary;
using System.Text;

namespace Platform.Gateway.Dtls.Bc;

/// <summary>
/// What a ClientHello (one whole, unfragmented epoch-0 record, already parsed by the cookie layer) offers that decides
/// its engine: the SNI host name, and the extensions only the BouncyCastle engine serves: <c>heartbeat</c> (15),
/// <c>client_certificate_type</c> (19) with RawPublicKey, <c>server_certificate_type</c> (20) and
/// <c>connection_id</c> (54). Read from the cookie layer's parse, before any per-client state exists; a malformed
/// server_name offers nothing.
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

    /// <summary>
    /// Reads the extensions of a ClientHello the cookie layer has parsed (<see cref="DtlsClientHello"/>, which checked
    /// that every extension entry is whole); false when the server_name extension is malformed.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> datagram, in DtlsClientHello hello, out DtlsClientHelloFeatures features)
    {
        features = default;
        try
        {
            return TryReadCore(hello.Extensions(datagram), out features);
        }
        catch (Exception ex) when (ex is ArgumentOutOfRangeException or IndexOutOfRangeException)
        {
            // A server_name length pointing past its extension: malformed.
            features = default;
            return false;
        }
    }

    private static bool TryReadCore(ReadOnlySpan<byte> extensions, out DtlsClientHelloFeatures features)
    {
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
