using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Threading.Channels;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Internal;
using Platform.Contracts.Plans;
using Platform.Contracts.Tenants;

namespace Platform.Benchmarks;

/// <summary>
/// Config change to visible-in-watch latency: one watcher long-polls the internal watch route as a
/// gateway does; a writer PUTs config changes one after another and measures from the PUT's answer to
/// the moment the watcher holds a response carrying the new revision of the tenant.
/// </summary>
internal static class WatchScenario
{
    private static readonly TimeSpan VisibleWithin = TimeSpan.FromSeconds(10);

    public static async Task RunAsync(BenchContext context)
    {
        var count = context.Options.Count ?? 100;
        const int Warmup = 5;
        // Every replacement raises maxConnections past the default plan's 1000: the plan allows up to the maximum.
        var tenant = await context.CreateTenantAsync("watched", plan: new TenantPlan { MaxConnections = LimitsConfig.MaxMaxConnections });
        // Replacements name the revision they are based on (If-Match with the config ETag).
        var configRevision = tenant.ConfigRevision;

        var initial = await WatchAsync(context, 0, 0, CancellationToken.None);
        var seen = Channel.CreateUnbounded<(long Revision, int MaxConnections, long At)>();
        using var stop = new CancellationTokenSource();
        var watcher = Task.Run(() => WatchLoopAsync(context, tenant.Id, initial.Revision, seen.Writer, stop.Token));

        var recorder = context.Recorder("PUT config -> watch response with the new revision");
        var visibleBeforeAnswer = 0;
        var deadline = Stopwatch.GetTimestamp() + (long)(context.Options.TimeLimit.TotalSeconds * Stopwatch.Frequency);
        for (var i = 1 - Warmup; i <= count && Stopwatch.GetTimestamp() < deadline; i++)
        {
            if (i == 1)
            {
                recorder.Start();
            }

            var maxConnections = 1000 + Warmup + i;
            using var response = await ConfigScenarios.PutAsync(context.Operator, tenant.Slug, configRevision, ConfigScenarios.Config(maxConnections));
            var answered = Stopwatch.GetTimestamp();
            var revision = (await BenchContext.ReadAsync<ConfigResponse>(response, HttpStatusCode.OK, "PUT config")).Revision;
            configRevision = revision;

            using var wait = new CancellationTokenSource(VisibleWithin);
            (long Revision, int MaxConnections, long At) item;
            try
            {
                do
                {
                    item = await seen.Reader.ReadAsync(wait.Token);
                }
                while (item.Revision < revision);
            }
            catch (OperationCanceledException) when (wait.IsCancellationRequested)
            {
                throw new BenchmarkFailedException($"revision {revision} did not reach the watcher within {VisibleWithin.TotalSeconds} s");
            }

            if (item.MaxConnections != maxConnections)
            {
                throw new BenchmarkFailedException($"watch carried maxConnections {item.MaxConnections} at revision {item.Revision}, expected {maxConnections}");
            }

            // The watcher may see the change before the PUT's answer has reached the writer.
            if (i < 1)
            {
                continue;
            }

            if (item.At <= answered)
            {
                visibleBeforeAnswer++;
                recorder.Add(TimeSpan.Zero);
            }
            else
            {
                recorder.Add(Stopwatch.GetElapsedTime(answered, item.At));
            }
        }

        recorder.Stop();
        await stop.CancelAsync();
        await watcher;
        Console.WriteLine(recorder.Summary("changes/s"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {visibleBeforeAnswer} of {recorder.Count} changes were in the watch before the PUT answer arrived (counted as 0 ms)"));
    }

    private static async Task<ConfigWatchResponse> WatchAsync(BenchContext context, long after, int waitSeconds, CancellationToken cancellationToken)
    {
        var uri = new Uri(string.Create(CultureInfo.InvariantCulture, $"{HttpLinkRoutes.ConfigWatch}?after={after}&waitSeconds={waitSeconds}"), UriKind.Relative);
        using var response = await context.Cluster.GetAsync(uri, cancellationToken);
        return await BenchContext.ReadAsync<ConfigWatchResponse>(response, HttpStatusCode.OK, "GET watch");
    }

    private static async Task WatchLoopAsync(
        BenchContext context, Guid tenantId, long cursor, ChannelWriter<(long, int, long)> seen, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                var answer = await WatchAsync(context, cursor, 30, cancellationToken);
                var at = Stopwatch.GetTimestamp();
                cursor = answer.Revision;
                foreach (var snapshot in answer.Tenants.Where(t => t.Id == tenantId))
                {
                    seen.TryWrite((snapshot.Revision, snapshot.Config.Limits.MaxConnections, at));
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The measurement is over.
        }
        catch (Exception ex)
        {
            // The writer waiting on the channel sees why the watch failed.
            seen.TryComplete(ex);
            throw;
        }
        finally
        {
            seen.TryComplete();
        }
    }
}
