using System.Threading.Channels;
using Platform.Cluster;
using Platform.Silo.Gateways;

namespace Platform.Silo.Quotas;

/// <summary>
/// Asks gateways to sync some tenants' leases at once (<see cref="SyncLeasesCommand"/>), off the quota
/// grains' turns: a grain queues the request and returns; this service sends what is queued, one call per gateway
/// and batch, and logs a gateway that cannot be reached. A lost request only delays a reclaim: the gateway syncs on
/// its own within its sync interval.
/// </summary>
internal sealed partial class LeaseSyncNotifier(
    GatewayCommandClient commands,
    ILogger<LeaseSyncNotifier> logger) : BackgroundService
{
    private readonly Channel<(string GatewayId, Guid TenantId)> _queue = Channel.CreateBounded<(string, Guid)>(
        new BoundedChannelOptions(10_000) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite });

    /// <summary>Queues a request; never blocks.</summary>
    public void Request(string gatewayId, Guid tenantId)
    {
        if (!_queue.Writer.TryWrite((gatewayId, tenantId)))
        {
            LogQueueFull(logger, gatewayId);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken))
            {
                var batch = new Dictionary<string, HashSet<Guid>>(StringComparer.Ordinal);
                while (_queue.Reader.TryRead(out var item))
                {
                    if (!batch.TryGetValue(item.GatewayId, out var tenants))
                    {
                        tenants = [];
                        batch[item.GatewayId] = tenants;
                    }

                    tenants.Add(item.TenantId);
                }

                await Task.WhenAll(batch.Select(b => SendAsync(b.Key, b.Value, stoppingToken)));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutdown.
        }
    }

    private async Task SendAsync(string gatewayId, HashSet<Guid> tenantIds, CancellationToken cancellationToken)
    {
        // The gateway's grain knows whether it is live and how to reach it.
        var call = await commands.ExecuteAsync(gatewayId, new SyncLeasesCommand([.. tenantIds]), cancellationToken);
        if (call.Status != GatewayCallStatus.Accepted)
        {
            LogNotSynced(logger, gatewayId, call.Status);
        }
    }

    [LoggerMessage(EventId = 7101, Level = LogLevel.Warning, Message = "Gateway {GatewayId} was not asked to sync its leases ({Status}); it syncs on its own within its interval")]
    private static partial void LogNotSynced(ILogger logger, string gatewayId, GatewayCallStatus status);

    [LoggerMessage(EventId = 7103, Level = LogLevel.Warning, Message = "Lease sync requests are queued faster than gateways take them; one for gateway {GatewayId} was dropped")]
    private static partial void LogQueueFull(ILogger logger, string gatewayId);
}
