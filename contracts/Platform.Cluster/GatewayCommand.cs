using Platform.Contracts.Connections;
using Platform.Contracts.Gateways;

namespace Platform.Cluster;

/// <summary>A command the cluster gives a gateway (see <see cref="IGatewayObserver"/>).</summary>
[GenerateSerializer, Immutable, Alias("platform.gateway.command")]
public abstract record GatewayCommand;

/// <summary>Send one message to a connection the gateway holds.</summary>
[GenerateSerializer, Immutable, Alias("platform.gateway.command.send")]
public sealed record SendCommand([property: Id(0)] string ConnectionId, [property: Id(1)] SendMessageRequest Message) : GatewayCommand;

/// <summary>Close a connection the gateway holds, with a close code and reason.</summary>
[GenerateSerializer, Immutable, Alias("platform.gateway.command.disconnect")]
public sealed record DisconnectCommand([property: Id(0)] string ConnectionId, [property: Id(1)] DisconnectRequest Request) : GatewayCommand;

/// <summary>Send one message to every connection of a tenant the gateway holds.</summary>
[GenerateSerializer, Immutable, Alias("platform.gateway.command.broadcast")]
public sealed record BroadcastCommand([property: Id(0)] Guid TenantId, [property: Id(1)] SendMessageRequest Message) : GatewayCommand;

/// <summary>Refuse new connections from now on; close the remaining ones after the deadline (0: never).</summary>
[GenerateSerializer, Immutable, Alias("platform.gateway.command.drain")]
public sealed record DrainCommand([property: Id(0)] DrainGatewayRequest Request) : GatewayCommand;

/// <summary>Sync these tenants' leases now (another gateway is short of slots this one holds unused).</summary>
[GenerateSerializer, Immutable, Alias("platform.gateway.command.sync-leases")]
public sealed record SyncLeasesCommand([property: Id(0)] IReadOnlyList<Guid> TenantIds) : GatewayCommand;
