using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Platform.Gateway.Admission;
using Platform.Gateway.Hosting;

namespace Platform.Gateway.Connections;

/// <summary>
/// One timer for all connections: closes those idle longer than their tenant's idle timeout (any byte
/// in or out is activity), aborts those whose client has not taken a send within the send timeout, and
/// closes what remains when a drain deadline passes. Runs on the injected <see cref="TimeProvider"/>,
/// so tests drive it with a fake clock.
/// </summary>
internal sealed class ConnectionMonitor(ConnectionRegistry registry, DrainState drain, IOptions<GatewayOptions> options, TimeProvider time)
    : IHostedService, IDisposable
{
    private readonly TimeSpan _sendTimeout = TimeSpan.FromSeconds(options.Value.ClientSendTimeoutSeconds);
    private ITimer? _timer;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _timer = time.CreateTimer(static s => ((ConnectionMonitor)s!).Tick(), this, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        return Task.CompletedTask;
    }

    /// <summary>Stops the timer; closing the connections at stop is <see cref="Silo.GatewayDeparture"/>'s.</summary>
    public Task StopAsync(CancellationToken cancellationToken)
    {
        _timer?.Dispose();
        return Task.CompletedTask;
    }

    public void Dispose() => _timer?.Dispose();

    internal void Tick()
    {
        if (drain.IsDraining && drain.Deadline is { } deadline && time.GetUtcNow() >= deadline)
        {
            registry.CloseAll(CloseCodes.GoingAway, "gateway drained");
            return;
        }

        foreach (var connection in registry.All)
        {
            if (_sendTimeout > TimeSpan.Zero && connection.SendPendingFor >= _sendTimeout)
            {
                connection.Abort(CloseCodes.SlowClient, "client not reading");
                continue;
            }

            var idle = connection.Tenant.Config.Timeouts.IdleTimeoutSeconds;
            if (idle > 0 && connection.IdleFor >= TimeSpan.FromSeconds(idle))
            {
                connection.Close(CloseCodes.IdleTimeout, "idle timeout");
            }
        }
    }
}
