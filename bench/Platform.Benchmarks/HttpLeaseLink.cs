using System.Net;
using System.Net.Http.Json;
using Platform.Contracts;
using Platform.Contracts.Internal;

namespace Platform.Benchmarks;

/// <summary>
/// The lease round trip of the HTTP build: <c>POST /internal/v1/gateways/{id}/leases</c> with the cluster secret.
/// Bodies are written in the shape every HTTP build accepts (no fields of later builds), as anonymous objects.
/// </summary>
internal sealed class HttpLeaseLink(BenchContext context) : LeaseLink
{
    private string _nodeId = "";

    public override async Task<TimeSpan> RegisterAsync(string nodeId)
    {
        using var response = await context.Cluster.PostAsJsonAsync(
            HttpLinkRoutes.Register,
            BenchContext.RegisterRequest(nodeId, "http://127.0.0.1:9"),
            PlatformJson.Options);
        var registered = await BenchContext.ReadAsync<RegisterGatewayResponse>(response, HttpStatusCode.OK, $"POST {HttpLinkRoutes.Register}");
        _nodeId = registered.NodeId;
        return TimeSpan.FromSeconds(registered.HeartbeatIntervalSeconds);
    }

    public override async Task<IReadOnlyList<(Guid TenantId, int Slots, int MaxConnections)>> SyncAsync(IReadOnlyList<(Guid TenantId, int Slots)> wants)
    {
        using var response = await context.Cluster.PostAsJsonAsync(
            HttpLinkRoutes.Path(HttpLinkRoutes.Leases, _nodeId),
            new { leases = wants.Select(w => new { tenantId = w.TenantId, slots = w.Slots }) },
            PlatformJson.Options);
        var result = await BenchContext.ReadAsync<LeaseSyncResponse>(response, HttpStatusCode.OK, "POST leases");
        return [.. result.Leases.Select(g => (g.TenantId, g.Slots, g.MaxConnections))];
    }

    public override async Task HeartbeatAsync(CancellationToken cancellationToken)
    {
        using var response = await context.Cluster.PostAsJsonAsync(
            HttpLinkRoutes.Path(HttpLinkRoutes.Heartbeat, _nodeId), new { configRevision = 0, openConnections = 0 }, PlatformJson.Options, cancellationToken);
        await BenchContext.EnsureAsync(response, HttpStatusCode.OK, "POST heartbeat");
    }

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
