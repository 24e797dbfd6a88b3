namespace Platform.Benchmarks;

/// <summary>
/// Routes of the internal HTTP API silos and gateways spoke before gateways became Orleans clients: the benchmarks
/// measure builds of that link as baselines. Every request carried <c>Authorization: Bearer {cluster secret}</c>.
/// </summary>
internal static class HttpLinkRoutes
{
    /// <summary>The path every internal route starts with.</summary>
    public const string Root = "/internal";

    /// <summary>Silo: POST <c>RegisterGatewayRequest</c> → <c>RegisterGatewayResponse</c>.</summary>
    public const string Register = "/internal/v1/gateways/register";

    /// <summary>Silo: POST <c>HeartbeatRequest</c> → <c>HeartbeatResponse</c>; 404 <c>gateway_unknown</c> means register again.</summary>
    public const string Heartbeat = "/internal/v1/gateways/{gatewayId}/heartbeat";

    /// <summary>
    /// Silo: POST, no body → 204. A gateway stopping cleanly: its leases are freed and its remaining open
    /// connections closed at once (1001), instead of after the heartbeat timeout; 404 <c>gateway_unknown</c> when it was not live.
    /// </summary>
    public const string Leave = "/internal/v1/gateways/{gatewayId}/leave";

    /// <summary>Silo: GET <c>?after={revision}&amp;waitSeconds={0..60}</c> → <c>ConfigWatchResponse</c> (long poll).</summary>
    public const string ConfigWatch = "/internal/v1/config/watch";

    /// <summary>Silo: POST <c>LeaseSyncRequest</c> → <c>LeaseSyncResponse</c>.</summary>
    public const string Leases = "/internal/v1/gateways/{gatewayId}/leases";

    /// <summary>Silo: POST <c>ConnectionEventBatch</c> → 204.</summary>
    public const string ConnectionEvents = "/internal/v1/gateways/{gatewayId}/connection-events";

    /// <summary>Gateway: POST <c>SendMessageRequest</c> → 202, or 404 when the connection is gone.</summary>
    public const string GatewaySend = "/internal/v1/connections/{connectionId}/send";

    /// <summary>Gateway: POST <c>Connections.DisconnectRequest</c> → 202, or 404.</summary>
    public const string GatewayDisconnect = "/internal/v1/connections/{connectionId}/disconnect";

    /// <summary>Gateway: POST <c>SendMessageRequest</c> → <c>GatewayBroadcastResponse</c>.</summary>
    public const string GatewayBroadcast = "/internal/v1/tenants/{tenantId}/broadcast";

    /// <summary>Gateway: POST <c>DrainGatewayRequest</c> → 202.</summary>
    public const string GatewayDrain = "/internal/v1/drain";

    /// <summary>
    /// Gateway: POST <c>LeaseSyncCommand</c> → 202. The gateway syncs the named tenants' leases with the silo at
    /// once; the silo asks this of gateways holding unused slots another gateway is short of.
    /// </summary>
    public const string GatewayLeaseSync = "/internal/v1/leases/sync";

    /// <summary>Builds a concrete path from a route template and values for its placeholders, in order.</summary>
    public static string Path(string template, params string[] values)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(values);
        var result = template;
        foreach (var value in values)
        {
            var open = result.IndexOf('{', StringComparison.Ordinal);
            var close = result.IndexOf('}', open + 1);
            result = string.Concat(result.AsSpan(0, open), Uri.EscapeDataString(value), result.AsSpan(close + 1));
        }

        return result;
    }
}
