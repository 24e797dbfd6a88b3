namespace Platform.Gateway.ProxyProtocol;

/// <summary>
/// The fixed parts of a PROXY protocol version 2 header (haproxy's proxy-protocol.txt, section 2.2), shared by the
/// header the gateway sends a forward backend (<see cref="Delivery.ProxyProtocolHeader"/>) and the one it reads from a
/// load balancer (<see cref="ProxyHeaderParser"/>).
/// </summary>
internal static class ProxyV2
{
    /// <summary>Signature, version and command, family and transport, and the 16-bit length: the bytes before the addresses.</summary>
    public const int FixedLength = 16;

    /// <summary>Version 2 in the high nibble of the 13th byte.</summary>
    public const byte Version = 0x20;

    /// <summary>Command LOCAL: the load balancer's own connection (a health check); the addresses are to be ignored.</summary>
    public const byte CommandLocal = 0x00;

    /// <summary>Command PROXY: the connection relays a client's, whose addresses follow.</summary>
    public const byte CommandProxy = 0x01;

    /// <summary>Address family (high nibble of the 14th byte): unspecified, IPv4, IPv6, UNIX.</summary>
    public const byte FamilyUnspecified = 0x00;

    /// <inheritdoc cref="FamilyUnspecified"/>
    public const byte FamilyInet = 0x10;

    /// <inheritdoc cref="FamilyUnspecified"/>
    public const byte FamilyInet6 = 0x20;

    /// <inheritdoc cref="FamilyUnspecified"/>
    public const byte FamilyUnix = 0x30;

    /// <summary>Transport (low nibble of the 14th byte): unspecified, stream, datagram.</summary>
    public const byte TransportUnspecified = 0x00;

    /// <inheritdoc cref="TransportUnspecified"/>
    public const byte TransportStream = 0x01;

    /// <inheritdoc cref="TransportUnspecified"/>
    public const byte TransportDatagram = 0x02;

    /// <summary>Length of the IPv4 address block: two addresses and two ports.</summary>
    public const int Inet4AddressLength = 12;

    /// <summary>Length of the IPv6 address block.</summary>
    public const int Inet6AddressLength = 36;

    /// <summary>The 12-byte signature every version 2 header starts with.</summary>
    public static ReadOnlySpan<byte> Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];
}
