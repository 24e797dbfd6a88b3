using System.Reflection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Platform.Cluster;
using Platform.Contracts.Gateways;
using Platform.Contracts.Internal;
using Platform.Gateway.Admission;
using Platform.Gateway.Connections;
using Platform.Gateway.Hosting;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Silo;

/// <summary>
/// Registers this node with the silo once the listeners are bound, then heartbeats; registers again when
/// the silo forgot it (it declared the node dead, for example after a silo outage or a partition longer
/// than the heartbeat timeout). The silo then closed the node's connections in the directory and dropped
/// its leases, so after registering again the node announces its live connections and the slots it holds.
/// Each heartbeat carries the refusals counted since the last acknowledged batch: a batch is sent again
/// unchanged until a heartbeat succeeds, and refusals counted meanwhile wait for the next batch.
/// </summary>
internal sealed partial class GatewayRegistration(
    SiloClient silo,
    ClusterConnection cluster,
    GatewayNode node,
    GatewayListeners listeners,
    TenantSnapshotStore store,
    ConnectionRegistry registry,
    LeaseManager leases,
    DrainState drain,
    GatewayMetrics metrics,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    ILogger<GatewayRegistration> logger) : BackgroundService
{
    private static readonly string Version = typeof(GatewayRegistration).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    /// <summary>Deltas per heartbeat, well under the silo's request body limit; the rest waits for the next beat.</summary>
    public const int MaxRefusalsPerHeartbeat = 2000;

    private long _sequence;
    private RefusalBatch? _unacknowledged;
    private long _heartbeats;
    private long _failedHeartbeats;

    /// <summary>Set once the silo has accepted a registration.</summary>
    public bool Registered { get; private set; }

    /// <summary>Heartbeats the silo has answered; lets tests wait for a report.</summary>
    public long Heartbeats => Interlocked.Read(ref _heartbeats);

    /// <summary>Registration or heartbeat attempts that failed because the silo was unreachable or refused.</summary>
    public long FailedHeartbeats => Interlocked.Read(ref _failedHeartbeats);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await WaitForStartAsync(stoppingToken);
        var interval = TimeSpan.FromSeconds(5);
        var failures = 0;
        var needsRegistration = true;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (needsRegistration)
                {
                    var registered = await silo.RegisterAsync(
                        new RegisterGatewayRequest(NodeId: node.NodeId, Version: Version, Listeners: listeners.Describe()), stoppingToken);
                    interval = TimeSpan.FromSeconds(Math.Max(1, registered.HeartbeatIntervalSeconds));
                    needsRegistration = false;
                    if (Registered)
                    {
                        registry.AnnounceAll();
                        leases.ReportAll();
                        Log.Reannounced(logger, registry.Count);
                    }
                    else
                    {
                        // A lease round refused before the node was known can go again now.
                        leases.RequestSync();
                    }

                    Registered = true;
                    // The silo counts sequence numbers per registration; a batch still unacknowledged is re-numbered, not dropped.
                    _sequence = 0;
                    if (_unacknowledged is { } pending)
                    {
                        _unacknowledged = pending with { Sequence = ++_sequence };
                    }

                    Log.Registered(logger, node.NodeId);
                }

                _unacknowledged ??= NextBatch();
                var beat = await silo.HeartbeatAsync(new HeartbeatRequest(store.Current.Revision, registry.Count, _unacknowledged), stoppingToken);
                _unacknowledged = null;
                Interlocked.Increment(ref _heartbeats);
                if (beat.Status == GatewayStatuses.Draining)
                {
                    drain.Begin(beat.DrainDeadline);
                }

                failures = 0;
                await Task.Delay(interval, time, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (GatewayUnknownException)
            {
                Log.Unknown(logger, node.NodeId);
                needsRegistration = true;
            }
            catch (GatewayRequestRejectedException ex) when (_unacknowledged is { } refused)
            {
                // Sending a batch the silo rejects again would only stop the heartbeats and get the node declared dead.
                Log.RefusalsRejected(logger, refused.Counts.Count, ex.Message);
                _unacknowledged = null;
            }
            catch (ClusterUnavailableException)
            {
                // Not connected yet (a fail-static start): register as soon as the client connects.
                Interlocked.Increment(ref _failedHeartbeats);
                Log.WaitingForCluster(logger);
                await cluster.FirstConnected.WaitAsync(stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            catch (Exception ex) when (SiloFailure.IsExpected(ex))
            {
                failures++;
                Interlocked.Increment(ref _failedHeartbeats);
                Log.SiloUnreachable(logger, ex.Message, failures);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(interval.TotalMilliseconds, 250 * failures)), time, stoppingToken)
                    .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private RefusalBatch? NextBatch()
    {
        var counts = metrics.Refusals.Take();
        if (counts.Count > MaxRefusalsPerHeartbeat)
        {
            metrics.Refusals.Return(counts.Skip(MaxRefusalsPerHeartbeat).ToList());
            counts = counts.Take(MaxRefusalsPerHeartbeat).ToList();
        }

        return counts.Count == 0 ? null : new RefusalBatch(++_sequence, counts);
    }

    private async Task WaitForStartAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var a = lifetime.ApplicationStarted.Register(static s => ((TaskCompletionSource)s!).TrySetResult(), started);
        using var b = stoppingToken.Register(static s => ((TaskCompletionSource)s!).TrySetCanceled(), started);
        await started.Task;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Registered as {NodeId}")]
        public static partial void Registered(ILogger logger, string nodeId);

        [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "The silo does not know node {NodeId}; registering again")]
        public static partial void Unknown(ILogger logger, string nodeId);

        [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Registered again; announced {Count} live connections and the slots held")]
        public static partial void Reannounced(ILogger logger, int count);

        [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Silo unreachable ({Error}); attempt {Failures}, serving from the current snapshot")]
        public static partial void SiloUnreachable(ILogger logger, string error, int failures);

        [LoggerMessage(EventId = 1005, Level = LogLevel.Error, Message = "The silo rejected {Count} refusal counts ({Error}); they are dropped")]
        public static partial void RefusalsRejected(ILogger logger, int count, string error);

        [LoggerMessage(EventId = 1009, Level = LogLevel.Information, Message = "Not connected to the cluster yet; registering once connected, serving from the current snapshot meanwhile")]
        public static partial void WaitingForCluster(ILogger logger);
    }
}
