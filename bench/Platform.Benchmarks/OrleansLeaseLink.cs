using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Platform.Cluster;
using Platform.Contracts;
using Platform.Contracts.Internal;
using Platform.Testing;

namespace Platform.Benchmarks;

/// <summary>
/// The lease round trip of the Orleans build: <see cref="IGatewayLinkGrain.SyncLeasesAsync"/> from an Orleans client
/// (<see cref="OrleansLink"/>), after <see cref="IGatewayLinkGrain.RegisterAsync"/> with an observer reference.
/// </summary>
internal sealed class OrleansLeaseLink : LeaseLink
{
    private readonly IHost _host;
    private readonly IClusterClient _client;
    private readonly BenchGatewayObserver _observer = new();
    private IGatewayObserver? _reference;
    private IGatewayLinkGrain? _link;

    private OrleansLeaseLink(IHost host)
    {
        _host = host;
        _client = host.Services.GetRequiredService<IClusterClient>();
    }

    public static async Task<OrleansLeaseLink> ConnectAsync(SiloProcess silo)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        return new OrleansLeaseLink(await OrleansLink.ConnectAsync(silo, limit.Token));
    }

    public override async Task<TimeSpan> RegisterAsync(string nodeId)
    {
        _reference = _client.CreateObjectReference<IGatewayObserver>(_observer);
        _link = _client.GetGrain<IGatewayLinkGrain>(nodeId);
        var registered = await _link.RegisterAsync(Registration(nodeId), _reference);
        return TimeSpan.FromSeconds(registered.HeartbeatIntervalSeconds);
    }

    public override async Task<IReadOnlyList<(Guid TenantId, int Slots, int MaxConnections)>> SyncAsync(IReadOnlyList<(Guid TenantId, int Slots)> wants)
    {
        var link = _link ?? throw new InvalidOperationException("register first");
        var result = await link.SyncLeasesAsync(new LeaseSyncRequest([.. wants.Select(w => new LeaseWant(w.TenantId, w.Slots))]))
            ?? throw new BenchmarkFailedException("SyncLeasesAsync answered null: the silo does not hold the fake gateway as live");
        return [.. result.Leases.Select(g => (g.TenantId, g.Slots, g.MaxConnections))];
    }

    public override async Task HeartbeatAsync(CancellationToken cancellationToken)
    {
        var link = _link ?? throw new InvalidOperationException("register first");
        if (await link.HeartbeatAsync(new HeartbeatRequest(0, 0), _reference!) is null)
        {
            throw new BenchmarkFailedException("HeartbeatAsync answered null: the silo no longer holds the fake gateway as live");
        }
    }

    public override async ValueTask DisposeAsync()
    {
        if (_reference is not null)
        {
            _client.DeleteObjectReference<IGatewayObserver>(_reference);
        }

        await _host.StopAsync();
        _host.Dispose();
    }

    // Built from JSON rather than a constructor, so it compiles against either shape of the record: a member the
    // record lacks (the internal URL, gone once gateways serve no internal API) is skipped.
    private static RegisterGatewayRequest Registration(string nodeId) =>
        JsonSerializer.Deserialize<RegisterGatewayRequest>(
            JsonSerializer.Serialize(BenchContext.RegisterRequest(nodeId, "http://127.0.0.1:9"), PlatformJson.Options),
            BenchContext.ReadJson)!;
}
