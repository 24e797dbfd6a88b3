using System.Text.Json.Serialization;
using Platform.Contracts.Connections;

namespace Platform.Contracts.Internal;

/// <summary>Connection directory events from one gateway, applied in one transaction.</summary>
/// <param name="Opened">Connections admitted.</param>
/// <param name="Counters">Counter snapshots (absolute totals, not deltas).</param>
/// <param name="Closed">Connections closed.</param>
public sealed record ConnectionEventBatch(
    IReadOnlyList<ConnectionOpened> Opened,
    IReadOnlyList<ConnectionCounters> Counters,
    IReadOnlyList<ConnectionClosed> Closed);

/// <summary>A connection admitted.</summary>
/// <param name="Id">Connection id.</param>
/// <param name="TenantId">Tenant.</param>
/// <param name="Protocol">See <see cref="ConnectionProtocols"/>.</param>
/// <param name="RemoteAddress">Client address.</param>
/// <param name="RemotePort">Client port.</param>
/// <param name="LocalPort">Gateway port.</param>
/// <param name="OpenedAt">Admission time.</param>
/// <param name="Tls">TLS facts.</param>
/// <param name="WebSocket">WebSocket facts.</param>
/// <param name="Metadata">What the tenant's webhook attached in its connect answer (<see cref="ConnectionMetadata"/>); null when nothing, and from older gateways.</param>
/// <param name="ForwardTarget">Where the connection is forwarded, <c>host:port</c> (the tenant's own target or the one a webhook chose); null when it is not forwarded.</param>
public sealed record ConnectionOpened(
    string Id,
    Guid TenantId,
    string Protocol,
    string RemoteAddress,
    int RemotePort,
    int LocalPort,
    DateTimeOffset OpenedAt,
    TlsFacts? Tls,
    WebSocketFacts? WebSocket,
    [property: JsonConverter(typeof(MetadataJsonConverter))] IReadOnlyDictionary<string, string>? Metadata = null,
    string? ForwardTarget = null);

/// <summary>Absolute counters of an open connection.</summary>
/// <param name="Id">Connection id.</param>
/// <param name="BytesIn">Bytes from the client.</param>
/// <param name="BytesOut">Bytes to the client.</param>
/// <param name="MessagesIn">Messages from the client.</param>
/// <param name="MessagesOut">Messages to the client.</param>
/// <param name="LastActivityAt">Last byte in or out.</param>
/// <param name="RemoteAddress">The client's address when it changed since the connection opened (a DTLS session with a connection ID that moved); null otherwise, and from older gateways.</param>
/// <param name="RemotePort">The client's port, with <paramref name="RemoteAddress"/>.</param>
public sealed record ConnectionCounters(
    string Id,
    long BytesIn,
    long BytesOut,
    long MessagesIn,
    long MessagesOut,
    DateTimeOffset LastActivityAt,
    string? RemoteAddress = null,
    int? RemotePort = null);

/// <summary>A connection closed, with final counters.</summary>
/// <param name="Counters">Final counters.</param>
/// <param name="ClosedAt">Close time.</param>
/// <param name="CloseCode">Close code.</param>
/// <param name="CloseReason">Close reason.</param>
public sealed record ConnectionClosed(ConnectionCounters Counters, DateTimeOffset ClosedAt, int? CloseCode, string? CloseReason);
