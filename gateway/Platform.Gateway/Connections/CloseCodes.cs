namespace Platform.Gateway.Connections;

/// <summary>
/// The one table of close codes for every protocol (ws, wss, TCP, TLS, DTLS): the same event closes a connection with the
/// same code and reason whatever the client speaks. WebSocket clients read it in their close frame; for the other
/// protocols only the directory shows it. docs/architecture.md ("Close codes") documents it.
/// </summary>
internal static class CloseCodes
{
    public const int Normal = 1000;
    public const int GoingAway = 1001;
    public const int ProtocolError = 1002;
    public const int InvalidPayload = 1007;
    public const int PolicyViolation = 1008;
    public const int MessageTooBig = 1009;
    public const int InternalError = 1011;

    /// <summary>Closed after the tenant's idle timeout (for DTLS also its DTLS idle timeout, which is never off).</summary>
    public const int IdleTimeout = 4000;

    /// <summary>The forward backend closed, failed or could not be reached after admission (every protocol).</summary>
    public const int BackendClosed = 4001;

    /// <summary>The tenant was suspended or deleted (a drain deadline and a stopping gateway close with 1001 going away).</summary>
    public const int Drained = 4002;

    /// <summary>The client closed or the connection dropped.</summary>
    public const int ClientClosed = 4003;

    /// <summary>Closed by an API command.</summary>
    public const int Disconnected = 4004;

    /// <summary>The client stopped reading: one send stayed pending longer than the send timeout.</summary>
    public const int SlowClient = 4005;

    /// <summary>A WebSocket client did not answer a ping within the tenant's pong timeout.</summary>
    public const int PongTimeout = 4006;

    /// <summary>
    /// A DTLS client did not answer an RFC 6520 heartbeat request within the tenant's heartbeat timeout: the same event as
    /// <see cref="PongTimeout"/>, so the same code.
    /// </summary>
    public const int HeartbeatTimeout = PongTimeout;

    /// <summary>
    /// The tenant's webhook did not take the connection's messages within <c>delivery.webhook.backpressureTimeoutSeconds</c>
    /// (reading from the client had stopped meanwhile).
    /// </summary>
    public const int WebhookBacklog = 4007;
}
