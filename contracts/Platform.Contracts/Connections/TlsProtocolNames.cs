using System.Security.Authentication;

namespace Platform.Contracts.Connections;

/// <summary>
/// Negotiated protocol versions as the protocols name themselves (and OpenSSL prints them): the form of
/// <see cref="TlsFacts.Protocol"/> in the directory and of the SSL version in a PROXY v2 header.
/// </summary>
public static class TlsProtocolNames
{
    /// <summary>TLS 1.2.</summary>
    public const string Tls12 = "TLSv1.2";

    /// <summary>TLS 1.3.</summary>
    public const string Tls13 = "TLSv1.3";

    /// <summary>DTLS 1.2, the one DTLS version the gateways serve.</summary>
    public const string Dtls12 = "DTLSv1.2";

    /// <summary>The name of a version .NET negotiated.</summary>
    public static string For(SslProtocols protocol) => protocol switch
    {
        SslProtocols.Tls13 => Tls13,
        SslProtocols.Tls12 => Tls12,

        // Not reached by the gateways, which enable TLS 1.2 and 1.3 only; named rather than refused if it ever were.
        _ => protocol.ToString(),
    };
}
