namespace Platform.Contracts.Gateways;

/// <summary>A gateway node as the REST API shows it.</summary>
/// <param name="Id">Node id, which prefixes every connection id it issues.</param>
/// <param name="Version">Software version.</param>
/// <param name="Listeners">Listeners it serves, for example <c>ws:8080</c>.</param>
/// <param name="Status"><c>up</c>, <c>draining</c>, <c>stopped</c> or <c>dead</c>.</param>
/// <param name="StartedAt">Registration time.</param>
/// <param name="LastHeartbeatAt">Last heartbeat.</param>
/// <param name="Connections">Open connections in the directory.</param>
/// <param name="ConfigRevision">Config revision it has applied.</param>
public sealed record GatewayResponse(
    string Id,
    string Version,
    IReadOnlyList<string> Listeners,
    string Status,
    DateTimeOffset StartedAt,
    DateTimeOffset LastHeartbeatAt,
    long Connections,
    long ConfigRevision);

/// <summary>Body of <c>POST /v1/gateways/{id}/drain</c>.</summary>
/// <param name="DeadlineSeconds">Seconds after which remaining connections are closed; 0 waits for them indefinitely.</param>
public sealed record DrainGatewayRequest(int DeadlineSeconds = 0);

/// <summary>Values of <see cref="GatewayResponse.Status"/>.</summary>
public static class GatewayStatuses
{
    /// <summary>Heartbeating and accepting connections.</summary>
    public const string Up = "up";
    /// <summary>Heartbeating, refusing new connections.</summary>
    public const string Draining = "draining";
    /// <summary>Stopped heartbeating; its connections and leases were reaped after the heartbeat timeout.</summary>
    public const string Dead = "dead";
    /// <summary>Stopped cleanly: it closed its connections and gave back its leases as it left.</summary>
    public const string Stopped = "stopped";
}
