using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Platform.Contracts.Internal;
using Platform.Gateway.Hosting;

namespace Platform.Gateway.Connections;

/// <summary>The seam the publisher posts batches through (the link grain's connection events).</summary>
internal interface IConnectionEventClient
{
    Task PostConnectionEventsAsync(ConnectionEventBatch batch, CancellationToken cancellationToken);
}

/// <summary>
/// Sends directory events in batches: an event waits the linger for others to share its batch (not when a full batch
/// is queued already), and with no event a report still goes every flush interval; every counter period it carries the
/// counters of each open connection that changed since the last report that carried them (the silo keeps the
/// highest counters it got, so an unchanged report would change nothing; thousands of idle connections cost no
/// report and no garbage). A connection is reported only once its open event went out in a batch, and in full
/// again after the open events are re-announced. A batch the silo did not take is retried as it is (nothing lost)
/// while new events wait in the bounded queue.
/// </summary>
internal sealed partial class ConnectionEventPublisher(
    ConnectionEventSink sink,
    ConnectionRegistry registry,
    IConnectionEventClient client,
    IOptions<GatewayOptions> options,
    TimeProvider time,
    ILogger<ConnectionEventPublisher> logger) : BackgroundService
{
    private readonly int _batchSize = options.Value.EventBatchSize;
    private readonly TimeSpan _flush = TimeSpan.FromMilliseconds(options.Value.EventFlushMilliseconds);
    private readonly TimeSpan _linger = TimeSpan.FromMilliseconds(options.Value.EventLingerMilliseconds);
    private readonly TimeSpan _counterPeriod = TimeSpan.FromSeconds(options.Value.CounterReportSeconds);

    /// <summary>The batch being sent; kept when the send fails or is cut off by the stop, for <see cref="FlushAsync"/>.</summary>
    private ConnectionEventBatch? _pending;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var lastCounters = time.GetTimestamp();
        var failures = 0;

        // One wait for the queue spans as many idle flush intervals as pass before an event comes: an interval that
        // passes with nothing queued throws nothing and leaves no waiter behind.
        Task<bool>? queued = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (_pending is null)
                {
                    queued ??= sink.Reader.WaitToReadAsync(stoppingToken).AsTask();
                    if (!queued.IsCompleted)
                    {
                        await Task.WhenAny(queued, Task.Delay(_flush, time, stoppingToken));
                    }

                    if (queued.IsCompleted)
                    {
                        queued = null;

                        // An event came: the events that follow it within the linger go in the same batch, so that a
                        // burst of connections costs the silo one call per linger instead of one per few events.
                        if (_linger > TimeSpan.Zero && sink.Reader.Count < _batchSize)
                        {
                            await Task.Delay(_linger, time, stoppingToken);
                        }
                    }

                    if (stoppingToken.IsCancellationRequested)
                    {
                        return;
                    }

                    var includeCounters = time.GetElapsedTime(lastCounters) >= _counterPeriod;
                    _pending = Collect(includeCounters);
                    if (includeCounters)
                    {
                        lastCounters = time.GetTimestamp();
                    }
                }

                if (_pending.Opened.Count + _pending.Closed.Count + _pending.Counters.Count > 0)
                {
                    await client.PostConnectionEventsAsync(_pending, stoppingToken);
                }

                _pending = null;
                failures = 0;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (Silo.SiloFailure.IsExpected(ex))
            {
                failures++;
                Log.PostFailed(logger, _pending?.Opened.Count + _pending?.Closed.Count ?? 0, ex.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(5000, 250 * failures)), time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>
    /// Sends what is left once the loop has stopped (the gateway is leaving): the batch that was cut off,
    /// then every queued event, with the counters of connections still open. Throws when the silo does not take it.
    /// </summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        var batch = _pending ?? Collect(includeCounters: true);
        while (batch.Opened.Count + batch.Closed.Count + batch.Counters.Count > 0)
        {
            _pending = batch;
            await client.PostConnectionEventsAsync(batch, cancellationToken);
            _pending = null;
            batch = Collect(includeCounters: false);
        }
    }

    /// <summary>Takes up to one batch of queued events, and optionally the counters of open connections that changed since they were last reported.</summary>
    internal ConnectionEventBatch Collect(bool includeCounters)
    {
        var opened = new List<ConnectionOpened>();
        var closed = new List<ConnectionClosed>();
        while (opened.Count + closed.Count < _batchSize && sink.Reader.TryRead(out var item))
        {
            switch (item)
            {
                case ConnectionOpened o:
                    opened.Add(o);
                    registry.Find(o.Id)?.MarkListed();
                    break;
                case ConnectionClosed c:
                    closed.Add(c);
                    break;
            }
        }

        var counters = new List<ConnectionCounters>();
        if (includeCounters)
        {
            foreach (var connection in registry.All)
            {
                if (connection.CountersIfChanged() is { } changed)
                {
                    counters.Add(changed);
                }
            }
        }

        return new ConnectionEventBatch(opened, counters, closed);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3201, Level = LogLevel.Warning, Message = "Posting {Count} connection events failed: {Error}; retrying the same batch")]
        public static partial void PostFailed(ILogger logger, int count, string error);
    }
}
