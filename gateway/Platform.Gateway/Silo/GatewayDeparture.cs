using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Platform.Gateway.Admission;
using Platform.Gateway.Connections;

namespace Platform.Gateway.Silo;

/// <summary>
/// A clean stop, in order. When the host begins stopping, new connections are refused (as draining) and
/// every open one is told (WebSocket close 1001, TLS close_notify, TCP FIN), so that Kestrel's graceful
/// stop does not wait on them. Once the listeners and the other services have stopped (this service is
/// registered first, so it stops last): the connections get up to <see cref="StepLimit"/> to finish, the
/// remaining directory events are sent, and the node leaves the silo, which frees its MaxConnections
/// leases for the other gateways at once instead of after the heartbeat timeout and closes what it still
/// lists. When the silo cannot be reached the stop goes on and the silo's reaper does the same later.
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
    /// <summary>How long each step of the departure may take: connections finishing their close, the last events, the leave.</summary>
    public static readonly TimeSpan StepLimit = TimeSpan.FromSeconds(5);

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
        // Again, for a connection admitted just as the stop began.
        registry.CloseAll(CloseCodes.GoingAway, "gateway stopping");
        if (!registration.Registered)
        {
            return;
        }

        // Each step has its own time: a client that never answers its close, or a slow last batch, must not
        // keep the node from leaving, which is what gives its slots back.
        using (var closing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            closing.CancelAfter(StepLimit);
            while (registry.Count > 0 && !closing.IsCancellationRequested)
            {
                // Closes in progress finish and queue their close events; the silo closes what is left when the node leaves.
                await Task.Delay(TimeSpan.FromMilliseconds(50), time, closing.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }

        try
        {
            using var flushing = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            flushing.CancelAfter(StepLimit);
            await publisher.FlushAsync(flushing.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException || SiloFailure.IsExpected(ex))
        {
            Log.FlushFailed(logger, ex.Message);
        }

        try
        {
            using var leaving = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            leaving.CancelAfter(StepLimit);
            await silo.LeaveAsync(leaving.Token);
            Log.Left(logger, registry.Count);
        }
        catch (GatewayUnknownException)
        {
            // The silo had already declared this node dead: nothing is left to give back.
            Log.AlreadyGone(logger);
        }
        catch (Exception ex) when (ex is OperationCanceledException || SiloFailure.IsExpected(ex))
        {
            Log.LeaveFailed(logger, ex.Message);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "Left the silo; leases given back ({Open} connections still closing were closed in the directory)")]
        public static partial void Left(ILogger logger, int open);

        [LoggerMessage(EventId = 1006, Level = LogLevel.Information, Message = "The silo no longer knew this node at stop; nothing to give back")]
        public static partial void AlreadyGone(ILogger logger);

        [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "Could not leave the silo cleanly ({Error}); it frees this node's leases after the heartbeat timeout")]
        public static partial void LeaveFailed(ILogger logger, string error);

        [LoggerMessage(EventId = 1008, Level = LogLevel.Warning, Message = "The last connection events were not all sent ({Error}); leaving anyway, the silo closes what it still lists")]
        public static partial void FlushFailed(ILogger logger, string error);
    }
}
