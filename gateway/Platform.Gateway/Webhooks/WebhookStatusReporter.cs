using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Platform.Cluster;
using Platform.Contracts.Internal;
using Platform.Gateway.Silo;

namespace Platform.Gateway.Webhooks;

/// <summary>
/// Hands the <see cref="WebhookStatusLedger"/>'s counts to the silo every <see cref="Interval"/>. A report whose call
/// fails is sent again unchanged (same id, which the silo applies once); counts made meanwhile wait for the next report.
/// A report the silo refuses as invalid is dropped (logged): sending it again would only block the ones after it.
/// </summary>
internal sealed partial class WebhookStatusReporter(SiloClient silo, WebhookStatusLedger ledger, TimeProvider time, ILogger<WebhookStatusReporter> logger)
    : BackgroundService
{
    /// <summary>Time between two reports.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    /// <summary>Counts per report, well under the silo's limit (5000).</summary>
    public const int MaxCountsPerReport = 2000;

    private WebhookReport? _pending;
    private long _reports;

    /// <summary>Reports the silo has taken; lets tests wait for one.</summary>
    public long Reports => Interlocked.Read(ref _reports);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Interval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            await SendAsync(stoppingToken);
        }

        // Stopping: one last report, briefly, so what the last seconds counted is not lost with the process.
        using var last = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        await SendAsync(last.Token);
    }

    private async Task SendAsync(CancellationToken cancellationToken)
    {
        _pending ??= ledger.Take(MaxCountsPerReport);
        if (_pending is not { } report)
        {
            return;
        }

        try
        {
            await silo.PostWebhookReportAsync(report, cancellationToken);
            _pending = null;
            Interlocked.Increment(ref _reports);
        }
        catch (GatewayRequestRejectedException ex)
        {
            Log.Rejected(logger, report.Counts.Count, ex.Message);
            _pending = null;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Kept: sent again (same id) by the next attempt, if there is one.
        }
        catch (Exception ex) when (SiloFailure.IsExpected(ex))
        {
            Log.NotSent(logger, ex.Message);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5305, Level = LogLevel.Error, Message = "The silo rejected a webhook status report of {Count} counts ({Error}); it is dropped")]
        public static partial void Rejected(ILogger logger, int count, string error);

        [LoggerMessage(EventId = 5306, Level = LogLevel.Debug, Message = "Webhook status report not taken ({Error}); sent again with the next one")]
        public static partial void NotSent(ILogger logger, string error);
    }
}
