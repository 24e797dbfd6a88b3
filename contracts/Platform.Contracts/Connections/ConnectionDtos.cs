using System.Text.Json.Serialization;

namespace Platform.Contracts.Connections;

/// <summary>An open (or recently closed) connection as the directory knows it.</summary>
/// <param name="Id">Connection id, <c>{gateway node id}.{sequence in hex}</c>.</param>
/// <param name="GatewayId">Owning gateway node.</param>
/// <param name="Protocol"><c>tcp</c>, <c>tls</c>, <c>ws</c>, <c>wss</c> or <c>dtls</c>.</param>
/// <param name="RemoteAddress">Client IP address.</param>
/// <param name="RemotePort">Client port.</param>
/// <param name="LocalPort">Gateway port it arrived on.</param>
/// <param name="OpenedAt">When admitted.</param>
/// <param name="ClosedAt">When closed, if closed.</param>
/// <param name="CloseCode">Close code, from one table for every protocol (docs/architecture.md): the platform's own, or the code a WebSocket client or a REST disconnect gave.</param>
/// <param name="CloseReason">Reason text.</param>
/// <param name="BytesIn">Bytes received from the client.</param>
/// <param name="BytesOut">Bytes sent to the client.</param>
/// <param name="MessagesIn">Messages (or framed records) received.</param>
/// <param name="MessagesOut">Messages sent.</param>
/// <param name="LastActivityAt">Last byte in or out, as of the last counter report.</param>
/// <param name="Tls">TLS facts, for TLS, WSS and DTLS connections.</param>
/// <param name="WebSocket">WebSocket facts, for WS and WSS connections.</param>
/// <param name="Metadata">Key/value pairs the tenant's webhook attached when it accepted the connection (<see cref="ConnectionMetadata"/>); null when none.</param>
/// <param name="ForwardTarget">Where the connection is forwarded, <c>host:port</c>: the tenant's <c>delivery.forward</c> target, or the one the webhook's connect answer chose; null when it is not forwarded.</param>
public sealed record ConnectionResponse(
    string Id,
    string GatewayId,
    string Protocol,
    string RemoteAddress,
    int RemotePort,
    int LocalPort,
    DateTimeOffset OpenedAt,
    DateTimeOffset? ClosedAt,
    int? CloseCode,
    string? CloseReason,
    long BytesIn,
    long BytesOut,
    long MessagesIn,
    long MessagesOut,
    DateTimeOffset LastActivityAt,
    TlsFacts? Tls,
    WebSocketFacts? WebSocket,
    [property: JsonConverter(typeof(MetadataJsonConverter))] IReadOnlyDictionary<string, string>? Metadata = null,
    string? ForwardTarget = null);

/// <summary>Negotiated TLS facts of one connection (the seeds' SSLNegotiated* values).</summary>
/// <param name="Sni">Server name the client asked for.</param>
/// <param name="Protocol">Negotiated protocol as the protocols name it: <c>TLSv1.2</c>, <c>TLSv1.3</c> or <c>DTLSv1.2</c> (<see cref="TlsProtocolNames"/>).</param>
/// <param name="CipherSuite">Negotiated cipher suite.</param>
/// <param name="ClientCertificateSubject">Client certificate subject, when one was presented.</param>
/// <param name="ClientCertificateIssuer">Client certificate issuer.</param>
/// <param name="ClientCertificateThumbprint">Client certificate SHA-256 fingerprint, hex.</param>
/// <param name="ClientCertificateAccepted">The client-certificate decision.</param>
/// <param name="PskIdentity">DTLS PSK identity used, if any.</param>
/// <param name="Engine">DTLS only: the engine that served the session, <c>openssl</c> or <c>bouncycastle</c>.</param>
/// <param name="ConnectionId">DTLS only: the connection ID (RFC 9146) the gateway issued, hex, when one was negotiated.</param>
/// <param name="RawPublicKeyFingerprint">DTLS only: SHA-256 (hex) of the client's raw public key (RFC 7250), when it authenticated with one.</param>
public sealed record TlsFacts(
    string? Sni,
    string Protocol,
    string CipherSuite,
    string? ClientCertificateSubject,
    string? ClientCertificateIssuer,
    string? ClientCertificateThumbprint,
    bool? ClientCertificateAccepted,
    string? PskIdentity,
    string? Engine = null,
    string? ConnectionId = null,
    string? RawPublicKeyFingerprint = null);

/// <summary>WebSocket facts of one connection.</summary>
/// <param name="Path">Request path.</param>
/// <param name="Origin">Origin header.</param>
/// <param name="SubProtocol">Selected sub-protocol.</param>
/// <param name="Host">Host header.</param>
/// <param name="Compression">Whether permessage-deflate was negotiated.</param>
public sealed record WebSocketFacts(string Path, string? Origin, string? SubProtocol, string? Host, bool Compression);

/// <summary>
/// Body of <c>POST /v1/tenants/{slug}/connections/{id}/messages</c> and of the broadcast endpoint:
/// exactly one of <c>text</c> or <c>binary</c> (base64).
/// </summary>
/// <param name="Text">UTF-8 text (a WebSocket text message; raw bytes for stream protocols).</param>
/// <param name="Binary">Base64 payload (a WebSocket binary message; raw bytes or a datagram otherwise).</param>
public sealed record SendMessageRequest(string? Text = null, string? Binary = null);

/// <summary>Body of <c>POST /v1/tenants/{slug}/connections/{id}/disconnect</c>.</summary>
/// <param name="Code">WebSocket close code 1000 or 3000..4999 (default 1000); ignored for other protocols.</param>
/// <param name="Reason">Close reason, at most 123 bytes of UTF-8.</param>
public sealed record DisconnectRequest(int Code = 1000, string? Reason = null);

/// <summary>Answer to a broadcast.</summary>
/// <param name="Delivered">Connections the message was queued on.</param>
/// <param name="Gateways">Gateways that took part.</param>
public sealed record BroadcastResponse(long Delivered, int Gateways);

/// <summary>Values of <see cref="ConnectionResponse.Protocol"/>.</summary>
public static class ConnectionProtocols
{
    /// <summary>Plain TCP.</summary>
    public const string Tcp = "tcp";
    /// <summary>TLS.</summary>
    public const string Tls = "tls";
    /// <summary>WebSocket.</summary>
    public const string Ws = "ws";
    /// <summary>WebSocket over TLS.</summary>
    public const string Wss = "wss";
    /// <summary>DTLS.</summary>
    public const string Dtls = "dtls";
}
