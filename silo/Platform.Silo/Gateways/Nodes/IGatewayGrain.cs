using Orleans.Concurrency;

using Platform.Cluster;

namespace Platform.Silo.Gateways.Nodes;

/// <summary>
/// One gateway node (key: its node id): its row in <c>gateway_nodes</c> and the way to reach the gateway. Every change
/// of the node's status goes through this grain and is stored before the call returns; commands to the gateway go
/// through it too.
/// </summary>
[Alias("platform.gateways.node")]
internal interface IGatewayGrain : IGrainWithStringKey
{
    /// <summary>Registers the node as up; a node seen before restarted, so its connections close and its leases go.</summary>
    [Alias("register")]
    Task RegisterAsync(GatewayRegistration registration);

    /// <summary>Records a heartbeat and its refusal batch (once per sequence number); null when the node is not live.</summary>
    [Alias("heartbeat")]
    Task<GatewayHeartbeatAnswer?> HeartbeatAsync(GatewayHeartbeat heartbeat);

    /// <summary>The node stops cleanly: stopped, leases freed, connections it still lists closed; false when not live.</summary>
    [Alias("leave")]
    Task<bool> LeaveAsync();

    /// <summary>Marks the node draining with the deadline (audited), then tells the gateway.</summary>
    [Alias("drain")]
    Task<GatewayDrainAnswer> DrainAsync(GatewayDrain drain);

    /// <summary>Declares the node dead if it is live and sent no heartbeat within the timeout; true when this call did.</summary>
    [Alias("declare-dead")]
    Task<bool> DeclareDeadAsync();

    /// <summary>
    /// Sends a command to the gateway. Interleaves with everything: it reads the node's address and status only, and a
    /// slow gateway must not hold up heartbeats or other commands.
    /// </summary>
    [Alias("command"), AlwaysInterleave]
    Task<GatewayCommandAnswer> CommandAsync(GatewayCommand command, CancellationToken cancellationToken);
}
