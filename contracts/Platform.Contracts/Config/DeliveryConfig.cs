namespace Platform.Contracts.Config;

/// <summary>Where a client's data goes.</summary>
public sealed record DeliveryConfig
{
    /// <summary><c>echo</c> (default, diagnostics), <c>forward</c> or <c>webhook</c>.</summary>
    public string Mode { get; init; } = DeliveryModes.Echo;

    /// <summary>Settings for <c>forward</c>.</summary>
    public ForwardConfig? Forward { get; init; }

    /// <summary>Settings for <c>webhook</c>.</summary>
    public WebhookConfig? Webhook { get; init; }
}

/// <summary>Values of <see cref="DeliveryConfig.Mode"/>.</summary>
public static class DeliveryModes
{
    /// <summary>Send every message back to its sender.</summary>
    public const string Echo = "echo";
    /// <summary>One backend connection per client connection (WebSocketProxy).</summary>
    public const string Forward = "forward";
    /// <summary>Events POSTed to the tenant's URL.</summary>
    public const string Webhook = "webhook";
}

/// <summary>DefaultForwardHost / DefaultForwardPort and how messages map onto the backend stream.</summary>
public sealed record ForwardConfig
{
    /// <summary>Backend host name or IP address.</summary>
    public string Host { get; init; } = "";

    /// <summary>Backend port, 1..65535.</summary>
    public int Port { get; init; }

    /// <summary><c>tcp</c> (default), <c>tls</c>, or <c>udp</c> (DTLS clients only).</summary>
    public string Protocol { get; init; } = ForwardProtocols.Tcp;

    /// <summary>Seconds to wait for the backend connection, 1..60.</summary>
    public int ConnectTimeoutSeconds { get; init; } = 10;

    /// <summary>
    /// How WebSocket messages and DTLS datagrams become stream bytes on a TCP or TLS backend: <c>raw</c> (default),
    /// <c>line</c>, <c>lengthPrefix</c> (4-byte big-endian) or <c>lengthPrefix16</c> (2-byte big-endian).
    /// </summary>
    public string MessageFraming { get; init; } = MessageFramings.Raw;

    /// <summary>WebSocket message type for backend bytes: <c>binary</c> (default) or <c>text</c>.</summary>
    public string BackendMessageType { get; init; } = BackendMessageTypes.Binary;

    /// <summary>
    /// <c>none</c> (default) or <c>v2</c>: start each backend connection with a PROXY protocol v2 header that carries the
    /// client's address and how it connected (protocol, SNI, TLS version, client certificate). TCP and TLS backends only.
    /// </summary>
    public string ProxyProtocol { get; init; } = ProxyProtocolVersions.None;
}

/// <summary>Values of <see cref="ForwardConfig.ProxyProtocol"/>.</summary>
public static class ProxyProtocolVersions
{
    /// <summary>No header: the backend sees the client's bytes only.</summary>
    public const string None = "none";
    /// <summary>A PROXY protocol version 2 header with the platform's TLVs.</summary>
    public const string V2 = "v2";
}

/// <summary>Values of <see cref="ForwardConfig.Protocol"/>.</summary>
public static class ForwardProtocols
{
    /// <summary>Plain TCP.</summary>
    public const string Tcp = "tcp";
    /// <summary>TLS over TCP.</summary>
    public const string Tls = "tls";
    /// <summary>UDP, datagram for datagram (DTLS clients).</summary>
    public const string Udp = "udp";
}

/// <summary>Values of <see cref="ForwardConfig.MessageFraming"/>.</summary>
public static class MessageFramings
{
    /// <summary>Message payloads are written back to back.</summary>
    public const string Raw = "raw";
    /// <summary>Each message is followed by the framing EOL.</summary>
    public const string Line = "line";
    /// <summary>Each message is preceded by its length as a 4-byte big-endian integer.</summary>
    public const string LengthPrefix = "lengthPrefix";
    /// <summary>Each message is preceded by its length as a 2-byte big-endian integer (messages up to 65535 bytes).</summary>
    public const string LengthPrefix16 = "lengthPrefix16";
}

/// <summary>Values of <see cref="ForwardConfig.BackendMessageType"/>.</summary>
public static class BackendMessageTypes
{
    /// <summary>Binary WebSocket messages.</summary>
    public const string Binary = "binary";
    /// <summary>Text WebSocket messages (the backend must send UTF-8).</summary>
    public const string Text = "text";
}

/// <summary>Webhook delivery target. The secret is write-only.</summary>
public sealed record WebhookConfig
{
    /// <summary>Absolute http or https URL that receives connect, message and disconnect events.</summary>
    public string Url { get; init; } = "";

    /// <summary>
    /// HMAC-SHA256 signing secret (16..256 characters). Write-only: responses always carry null here and
    /// report <c>hasSecret</c>; a request with null keeps the stored secret.
    /// </summary>
    public string? Secret { get; init; }

    /// <summary>Read-only: whether a signing secret is stored.</summary>
    public bool HasSecret { get; init; }

    /// <summary>Seconds to wait for the tenant's endpoint, 1..30.</summary>
    public int TimeoutSeconds { get; init; } = 5;

    /// <summary>
    /// What a connection gets when its connect event has no usable answer (timeout, refused connection, 5xx, redirect,
    /// an answer that is not the documented JSON): <c>reject</c> (default) or <c>accept</c>.
    /// </summary>
    public string ConnectDefault { get; init; } = WebhookConnectDefaults.Reject;

    /// <summary>Most client messages in one <c>messages</c> request, 1..1000 (default 100).</summary>
    public int BatchMaxMessages { get; init; } = 100;

    /// <summary>Most payload bytes in one <c>messages</c> request before it is sent, 1024..1048576 (default 65536).</summary>
    public int BatchMaxBytes { get; init; } = 65536;

    /// <summary>Milliseconds a batch waits for more messages after its first one, 0..1000 (default 20).</summary>
    public int BatchDelayMilliseconds { get; init; } = 20;

    /// <summary>
    /// Seconds a client may be held back (not read) while the webhook does not take its messages before the connection is
    /// closed with 4007 <c>webhook backlog</c>, 1..300 (default 30).
    /// </summary>
    public int BackpressureTimeoutSeconds { get; init; } = 30;
}

/// <summary>Values of <see cref="WebhookConfig.ConnectDefault"/>.</summary>
public static class WebhookConnectDefaults
{
    /// <summary>Refuse the connection (<c>webhook_unavailable</c>).</summary>
    public const string Reject = "reject";
    /// <summary>Accept it as if the webhook had said yes, with nothing chosen.</summary>
    public const string Accept = "accept";
}
