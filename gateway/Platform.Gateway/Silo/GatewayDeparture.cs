using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Platform.Gateway.Admission;
using Platform.Gateway.Connections;

namespace Platform.Gateway.Silo;

/// <summary>
/// A clean stop, in order: when the host begins stopping, new connections are refused (as draining) and
/// every open one is told (WebSocket close 1001, TLS close_notify, TCP FIN) so that Kestrel's graceful
/// stop does not wait on them; once the listeners and
/// the other services have stopped (this service is registered first, so it stops last), the remaining
/// directory events are sent and the node leaves the silo, which frees its MaxConnections leases for the
/// other gateways at once instead of after the heartbeat timeout. When the silo cannot be reached the
/// stop goes on and the silo's reaper does the same later.
/// </summary>
internal sealed partial class GatewayDeparture(
    ConnectionRegistry registry,
    DrainState drain,
    ConnectionEventPublisher publisher,
    GatewayRegistration registration,
    SiloClient silo,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<GatewayDeparture> logger) : IHostedService
{
    /// <summary>How long the departure may take in all: connections finishing their close, the last events, the leave.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(5);

    private CancellationTokenRegistration _stopping;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _stopping = lifetime.ApplicationStopping.Register(static s => ((GatewayDeparture)s!).BeginStop(), this);
        return Task.CompletedTask;
    }

    /// <summary>No new connections from here on (refused as draining), and every open one is closed.</summary>
    private void BeginStop()
    {
        drain.Begin(time.GetUtcNow());
        registry.CloseAll(CloseCodes.GoingAway, "gateway stopping");
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.DisposeAsync();
        if (!registration.Registered)
        {
            return;
        }

        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(Limit);
        try
        {
            // Closes in progress finish and queue their close events; what has not finished by then the silo closes.
            registry.CloseAll(CloseCodes.GoingAway, "gateway stopping");
            while (registry.Count > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(50), time, limit.Token);
            }

            await publisher.FlushAsync(limit.Token);
            await silo.LeaveAsync(limit.Token);
            Log.Left(logger);
        }
        catch (GatewayUnknownException)
        {
            // The silo had already declared this node dead: nothing is left to give back.
            Log.AlreadyGone(logger);
        }
        catch (Exception ex) when (ex is HttpRequestException or SiloException or OperationCanceledException)
        {
            Log.LeaveFailed(logger, ex.Message, registry.Count);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "Left the silo; leases given back")]
        public static partial void Left(ILogger logger);

        [LoggerMessage(EventId = 1006, Level = LogLevel.Information, Message = "The silo no longer knew this node at stop; nothing to give back")]
        public static partial void AlreadyGone(ILogger logger);

        [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "Could not leave the silo cleanly ({Error}; {Open} connections still closing); it frees this node's leases after the heartbeat timeout")]
        public static partial void LeaveFailed(ILogger logger, string error, int open);
    }
}
