namespace Platform.Contracts.Internal;

/// <summary>A gateway announcing itself.</summary>
/// <param name="NodeId">Node id chosen by the gateway for this process lifetime (see <see cref="Connections.ConnectionId.IsValidNodeId"/>).</param>
/// <param name="Version">Software version.</param>
/// <param name="InternalUrl">Base URL of the gateway's internal API, reachable from silos.</param>
/// <param name="Listeners">Listeners served, for example <c>ws:8080</c>, <c>dtls:5684</c>.</param>
public sealed record RegisterGatewayRequest(string NodeId, string Version, string InternalUrl, IReadOnlyList<string> Listeners);

/// <summary>Registration answer: the timing the gateway must keep.</summary>
/// <param name="NodeId">The registered node id.</param>
/// <param name="HeartbeatIntervalSeconds">Seconds between heartbeats.</param>
/// <param name="HeartbeatTimeoutSeconds">Seconds without a heartbeat after which the node is declared dead and reaped.</param>
public sealed record RegisterGatewayResponse(string NodeId, int HeartbeatIntervalSeconds, int HeartbeatTimeoutSeconds);

/// <summary>A heartbeat.</summary>
/// <param name="ConfigRevision">Config revision the gateway has applied.</param>
/// <param name="OpenConnections">Connections currently open on the gateway.</param>
public sealed record HeartbeatRequest(long ConfigRevision, long OpenConnections);

/// <summary>Heartbeat answer.</summary>
/// <param name="Status"><c>up</c> or <c>draining</c>.</param>
/// <param name="DrainDeadline">When draining with a deadline: when remaining connections must be closed.</param>
public sealed record HeartbeatResponse(string Status, DateTimeOffset? DrainDeadline);

/// <summary>Answer of a gateway to a broadcast command.</summary>
/// <param name="Delivered">Connections the message was queued on.</param>
public sealed record GatewayBroadcastResponse(long Delivered);
