namespace Platform.Gateway.ProxyProtocol;

/// <summary>What <see cref="ProxyHeaderParser.TryParse"/> made of the bytes so far.</summary>
internal enum ProxyHeaderStatus
{
    /// <summary>A valid start; more bytes are needed.</summary>
    Incomplete,

    /// <summary>A whole valid header.</summary>
    Complete,

    /// <summary>Not a PROXY header, or one that breaks the specification.</summary>
    Malformed,

    /// <summary>Longer than the gateway reads (<see cref="ProxyHeaderParser.MaxV1Length"/>, <see cref="ProxyHeaderParser.MaxV2Length"/>).</summary>
    Oversized,

    /// <summary>Valid, but for a transport or family a stream listener does not carry (UDP, UNIX sockets).</summary>
    Unsupported,
}
