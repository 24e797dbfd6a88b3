namespace Platform.Contracts.Events;

/// <summary>A connection lifecycle event: the body of a webhook request, and the event part of the events API.</summary>
/// <param name="Id">Unique id (UUID), the same on every delivery attempt: deduplicate on it.</param>
/// <param name="Type"><c>connected</c> or <c>disconnected</c>.</param>
/// <param name="Sequence">Per-tenant number, 1, 2, 3, ... without gaps, in the order the events were recorded.</param>
/// <param name="Tenant">The tenant's slug.</param>
/// <param name="ConnectionId">The connection's id.</param>
/// <param name="Protocol"><c>tcp</c>, <c>tls</c>, <c>ws</c>, <c>wss</c> or <c>dtls</c>.</param>
/// <param name="RemoteAddress">The client's IP address.</param>
/// <param name="RemotePort">The client's port.</param>
/// <param name="CloseCode">For <c>disconnected</c>: the close code, when the connection had one (WebSocket close code).</param>
/// <param name="CloseReason">For <c>disconnected</c>: why it closed (<c>gateway lost</c> when its gateway died).</param>
/// <param name="OccurredAt">When the connection opened or closed.</param>
public sealed record LifecycleEvent(
    Guid Id,
    string Type,
    long Sequence,
    string Tenant,
    string ConnectionId,
    string Protocol,
    string RemoteAddress,
    int RemotePort,
    int? CloseCode,
    string? CloseReason,
    DateTimeOffset OccurredAt);

/// <summary>Values of <see cref="LifecycleEvent.Type"/>.</summary>
public static class LifecycleEventTypes
{
    /// <summary>A connection was admitted.</summary>
    public const string Connected = "connected";
    /// <summary>A connection closed, or its gateway died.</summary>
    public const string Disconnected = "disconnected";
}
