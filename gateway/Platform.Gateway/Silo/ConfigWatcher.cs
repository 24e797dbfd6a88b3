using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Platform.Gateway.Hosting;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Silo;

/// <summary>
/// Long-polls the cluster for config changes after the applied revision, applies each answer as one
/// snapshot swap, and saves the result for fail-static starts. While the cluster cannot be reached it
/// keeps the current snapshot and asks again, a little later after each failure.
/// </summary>
internal sealed partial class ConfigWatcher(
    SiloClient silo,
    ClusterConnection cluster,
    TenantSnapshotStore store,
    SnapshotPersistence persistence,
    Admission.GatewayMetrics metrics,
    IOptions<GatewayOptions> options,
    TimeProvider time,
    ILogger<ConfigWatcher> logger) : BackgroundService
{
    private readonly TaskCompletionSource _firstApplied = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the first answer from the silo has been applied.</summary>
    public Task FirstApplied => _firstApplied.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var current = store.Current;
                // The first watch asks for everything: a snapshot loaded from disk may be ahead of a silo whose database was reset.
                var synced = _firstApplied.Task.IsCompleted;
                var change = await silo.WatchConfigAsync(synced ? current.Revision : 0, synced ? options.Value.ConfigWaitSeconds : 0, stoppingToken);
                metrics.SiloRevisionSeen(change.Revision);
                var applied = store.Apply(change);
                if (!ReferenceEquals(applied, current))
                {
                    await persistence.SaveAsync(applied, stoppingToken);
                }

                _firstApplied.TrySetResult();
                failures = 0;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (ClusterUnavailableException)
            {
                // Not connected yet (a fail-static start): watch as soon as the client connects.
                await cluster.FirstConnected.WaitAsync(stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            catch (Exception ex) when (ex is IOException || SiloFailure.IsExpected(ex))
            {
                failures++;
                Log.WatchFailed(logger, ex.Message, store.Current.Revision);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 200 * failures)), time, stoppingToken)
                    .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1401, Level = LogLevel.Warning, Message = "Config watch failed ({Error}); still serving revision {Revision}")]
        public static partial void WatchFailed(ILogger logger, string error, long revision);
    }
}
