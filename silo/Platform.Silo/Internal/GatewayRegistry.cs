using System.Data.Common;
using System.Text.Json;
using Dapper;
using Platform.Cluster;
using Platform.Contracts;
using Platform.Contracts.Connections;
using Platform.Contracts.Gateways;
using Platform.Contracts.Internal;
using Platform.Silo.Gateways.Nodes;

namespace Platform.Silo.Internal;

/// <summary>
/// Gateway membership as the gateways' link grain sees it: registration, heartbeats and leave, each handed to the node's
/// <see cref="IGatewayGrain"/>, which stores it in <c>gateway_nodes</c>.
/// </summary>
internal sealed class GatewayRegistry(IGrainFactory grains)
{
    public const string RestartedReason = "gateway restarted";

    /// <summary>Close reason of connections still listed open when their gateway stopped cleanly.</summary>
    public const string StoppedReason = "gateway stopped";

    /// <summary>
    /// Registers the node as up. A node id seen before means its process restarted: the connections it held are gone
    /// and its leases describe a process that no longer exists, so both go in the same transaction as the registration.
    /// </summary>
    public Task RegisterAsync(RegisterGatewayRequest request, IGatewayObserver commands) =>
        grains.GetGrain<IGatewayGrain>(request.NodeId)
            .RegisterAsync(new GatewayRegistration(request.Version, [.. request.Listeners], commands));

    /// <summary>
    /// Records a heartbeat and, in the same transaction, its refusal batch unless that batch's sequence number was
    /// applied before (a re-send after a lost answer); null when the node is unknown, declared dead or stopped.
    /// </summary>
    public async Task<HeartbeatResponse?> HeartbeatAsync(string nodeId, HeartbeatRequest request, IGatewayObserver commands)
    {
        if (!ConnectionId.IsValidNodeId(nodeId))
        {
            return null;
        }

        var answer = await grains.GetGrain<IGatewayGrain>(nodeId).HeartbeatAsync(new GatewayHeartbeat(
            request.ConfigRevision, request.OpenConnections,
            request.Refusals is { } batch ? JsonSerializer.SerializeToUtf8Bytes(batch, PlatformJson.Options) : null,
            request.Refusals?.Sequence ?? 0, commands));
        return answer is null ? null : new HeartbeatResponse(answer.Status, answer.DrainDeadline);
    }

    /// <summary>
    /// A node stopping cleanly: marks it stopped, frees its leases for the other gateways and closes what it still
    /// lists as open (its final connection events normally closed them already), in one transaction; false when the
    /// node is unknown or no longer live.
    /// </summary>
    public async Task<bool> LeaveAsync(string nodeId) =>
        ConnectionId.IsValidNodeId(nodeId) && await grains.GetGrain<IGatewayGrain>(nodeId).LeaveAsync();

    /// <summary>
    /// Share-locks the gateway's row if it is live. A status change of that row (leave, declared dead) waits for this
    /// transaction, and its lease deletion then sees what this transaction granted.
    /// </summary>
    public static async Task<bool> LockLiveGatewayAsync(DbConnection connection, DbTransaction transaction, string gatewayId, CancellationToken cancellationToken) =>
        await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
            "SELECT status FROM gateway_nodes WHERE id = @gatewayId FOR SHARE",
            new { gatewayId }, transaction, cancellationToken: cancellationToken)) is GatewayStatuses.Up or GatewayStatuses.Draining;
}
