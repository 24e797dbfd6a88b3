namespace Platform.Contracts.Internal;

/// <summary>A gateway announcing itself.</summary>
/// <param name="NodeId">Node id chosen by the gateway for this process lifetime (see <see cref="Connections.ConnectionId.IsValidNodeId"/>).</param>
/// <param name="Version">Software version.</param>
/// <param name="Listeners">Listeners served, for example <c>ws:8080</c>, <c>dtls:5684</c>.</param>
public sealed record RegisterGatewayRequest(string NodeId, string Version, IReadOnlyList<string> Listeners);

/// <summary>Registration answer: the timing the gateway must keep.</summary>
/// <param name="NodeId">The registered node id.</param>
/// <param name="HeartbeatIntervalSeconds">Seconds between heartbeats.</param>
/// <param name="HeartbeatTimeoutSeconds">Seconds without a heartbeat after which the node is declared dead and reaped.</param>
public sealed record RegisterGatewayResponse(string NodeId, int HeartbeatIntervalSeconds, int HeartbeatTimeoutSeconds);

/// <summary>A heartbeat.</summary>
/// <param name="ConfigRevision">Config revision the gateway has applied.</param>
/// <param name="OpenConnections">Connections currently open on the gateway.</param>
/// <param name="Refusals">Refusals counted since the last acknowledged batch, if any.</param>
public sealed record HeartbeatRequest(long ConfigRevision, long OpenConnections, RefusalBatch? Refusals = null);

/// <summary>
/// Refusal counts a gateway has not yet had acknowledged. A batch whose heartbeat fails is sent again
/// unchanged with the same <paramref name="Sequence"/>; the silo applies each sequence number of a
/// registration once, so a batch that arrived but whose answer was lost is not counted twice.
/// </summary>
/// <param name="Sequence">Increases by one per new batch; restarts at 1 when the gateway registers.</param>
/// <param name="Counts">Deltas, at most one per (minute, tenant, protocol, reason).</param>
public sealed record RefusalBatch(long Sequence, IReadOnlyList<RefusalDelta> Counts);

/// <summary>Refusals of one kind within one minute, counted by a gateway.</summary>
/// <param name="Minute">Start of the UTC minute the refusals happened in.</param>
/// <param name="Tenant">Tenant slug; empty when no tenant was resolved.</param>
/// <param name="Protocol">Protocol (<c>ws</c>, <c>wss</c>, <c>tls</c>, ...); empty when the refusing code did not know it.</param>
/// <param name="Reason">Reason in snake_case, for example <c>max_connections</c>.</param>
/// <param name="Count">Refusals; positive.</param>
public sealed record RefusalDelta(DateTimeOffset Minute, string Tenant, string Protocol, string Reason, long Count);

/// <summary>Heartbeat answer.</summary>
/// <param name="Status"><c>up</c> or <c>draining</c>.</param>
/// <param name="DrainDeadline">When draining with a deadline: when remaining connections must be closed.</param>
public sealed record HeartbeatResponse(string Status, DateTimeOffset? DrainDeadline);
