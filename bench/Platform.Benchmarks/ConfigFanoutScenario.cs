using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Threading.Channels;
using Platform.Contracts.Config;
using Platform.Contracts.Plans;
using Platform.Contracts.Tenants;
using Platform.Testing;

namespace Platform.Benchmarks;

/// <summary>
/// A configuration change until every gateway applied it: two silos of one cluster over one database, three gateway
/// processes of the same build (two attached to silo 1, one to silo 2); one tenant's configuration is replaced through
/// silo 1's REST API (PUT with If-Match), N times, one change at a time with a pause between, and each change is
/// timed from the moment the PUT is sent until each gateway has saved the snapshot that carries it.
/// </summary>
/// <remarks>
/// "Applied" is seen from outside, the same way on every build: a gateway saves its fail-static snapshot after each
/// snapshot swap that changed something (written to a temporary file, then renamed over <c>snapshot.bin</c>), so a
/// <see cref="FileSystemWatcher"/> on its state directory sees one rename to <c>snapshot.bin</c> per applied change.
/// The figure includes the save itself (serialise, seal, write, fsync, rename) after the swap.
/// </remarks>
internal static class ConfigFanoutScenario
{
    private const int Warmup = 10;
    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan AppliedWithin = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ListedWithin = TimeSpan.FromSeconds(30);

    public static async Task RunAsync(BenchContext context, IReadOnlyList<SiloProcess> silos)
    {
        var count = context.Options.Count ?? 300;
        var tenant = await context.CreateTenantAsync("fanout", plan: new TenantPlan { MaxConnections = LimitsConfig.MaxMaxConnections });
        var revision = tenant.ConfigRevision;

        SiloProcess[] attachedTo = [silos[0], silos[1], silos[0]];
        var gateways = new List<GatewayProcess>();
        var watchers = new List<FileSystemWatcher>();
        try
        {
            for (var g = 0; g < attachedTo.Length; g++)
            {
                gateways.Add(await BenchGateways.StartAsync(context.Build, attachedTo[g], string.Create(CultureInfo.InvariantCulture, $"fanout{g + 1}"), context.Operator));
            }

            var saves = gateways.Select(_ => Channel.CreateUnbounded<long>()).ToArray();
            for (var g = 0; g < gateways.Count; g++)
            {
                watchers.Add(WatchSaves(gateways[g].StateDirectory, saves[g].Writer));
            }

            var perGateway = gateways.Select((gateway, g) => context.Recorder(string.Create(
                CultureInfo.InvariantCulture, $"PUT config -> applied on gateway {g + 1} (via silo {(ReferenceEquals(attachedTo[g], silos[0]) ? 1 : 2)})"))).ToArray();
            var all = context.Recorder("PUT config -> applied on all 3 gateways");
            var put = context.Recorder("PUT config answered");
            var strays = 0;
            var deadline = Stopwatch.GetTimestamp() + (long)(context.Options.TimeLimit.TotalSeconds * Stopwatch.Frequency);
            for (var i = 1 - Warmup; i <= count && Stopwatch.GetTimestamp() < deadline; i++)
            {
                if (i == 1)
                {
                    Array.ForEach(perGateway, r => r.Start());
                    all.Start();
                    put.Start();
                }

                var maxConnections = 1000 + Warmup + i;
                var started = Stopwatch.GetTimestamp();
                using (var response = await ConfigScenarios.PutAsync(context.Operator, tenant.Slug, revision, ConfigScenarios.Config(maxConnections)))
                {
                    var answered = Stopwatch.GetElapsedTime(started);
                    var next = (await BenchContext.ReadAsync<ConfigResponse>(response, HttpStatusCode.OK, "PUT config")).Revision;
                    if (next <= revision)
                    {
                        throw new BenchmarkFailedException($"PUT config answered revision {next}, not after {revision}");
                    }

                    revision = next;
                    if (i >= 1)
                    {
                        put.Add(answered);
                    }
                }

                var latest = TimeSpan.Zero;
                for (var g = 0; g < gateways.Count; g++)
                {
                    var (at, stale) = await NextSaveAsync(saves[g].Reader, started, gateways[g], revision);
                    strays += stale;
                    var elapsed = Stopwatch.GetElapsedTime(started, at);
                    latest = elapsed > latest ? elapsed : latest;
                    if (i >= 1)
                    {
                        perGateway[g].Add(elapsed);
                    }
                }

                if (i >= 1)
                {
                    all.Add(latest);
                }

                // Each change is measured alone: the next starts after a pause, once every gateway has saved this one.
                await Task.Delay(Pause);
            }

            Array.ForEach(perGateway, r => r.Stop());
            all.Stop();
            put.Stop();
            foreach (var recorder in perGateway.Append(all).Append(put))
            {
                Console.WriteLine(recorder.Summary("changes/s"));
            }

            await ExpectListedAsync(context, gateways, revision);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {all.Count} changes {Pause.TotalMilliseconds:F0} ms apart; every gateway listed at revision {revision} afterwards; saves outside a change: {strays}"));
            if (all.Count < count)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  note: time limit {context.Options.TimeLimit.TotalSeconds:F0} s reached after {all.Count} of {count} changes"));
            }
        }
        finally
        {
            foreach (var watcher in watchers)
            {
                watcher.Dispose();
            }

            foreach (var gateway in gateways)
            {
                await gateway.DisposeAsync();
            }
        }
    }

    private static FileSystemWatcher WatchSaves(string directory, ChannelWriter<long> saves)
    {
        var watcher = new FileSystemWatcher(directory) { NotifyFilter = NotifyFilters.FileName, IncludeSubdirectories = false };
        // The temporary file is renamed over the snapshot: one rename event per save (its creation and writes are other events).
        watcher.Renamed += (_, e) =>
        {
            if (e.Name == BenchGateways.SnapshotFileName)
            {
                saves.TryWrite(Stopwatch.GetTimestamp());
            }
        };
        watcher.Error += (_, e) => saves.TryComplete(new BenchmarkFailedException($"watching {directory} failed: {e.GetException().Message}"));
        watcher.EnableRaisingEvents = true;
        return watcher;
    }

    /// <summary>The first save after <paramref name="started"/>, and how many earlier saves were skipped to reach it.</summary>
    private static async Task<(long At, int Stale)> NextSaveAsync(ChannelReader<long> saves, long started, GatewayProcess gateway, long revision)
    {
        using var wait = new CancellationTokenSource(AppliedWithin);
        var stale = 0;
        try
        {
            while (true)
            {
                var at = await saves.ReadAsync(wait.Token);
                if (at >= started)
                {
                    return (at, stale);
                }

                stale++;
            }
        }
        catch (OperationCanceledException) when (wait.IsCancellationRequested)
        {
            throw new BenchmarkFailedException(
                $"gateway {gateway.NodeId} saved no snapshot within {AppliedWithin.TotalSeconds:F0} s of the change to revision {revision}:\n{gateway.Output}");
        }
    }

    /// <summary>Checks through the silo that what was saved is the change: each gateway reports the last revision applied.</summary>
    private static async Task ExpectListedAsync(BenchContext context, List<GatewayProcess> gateways, long revision)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(ListedWithin.TotalSeconds * Stopwatch.Frequency);
        foreach (var gateway in gateways)
        {
            while (await BenchGateways.ListedRevisionAsync(gateway, context.Operator) is not { } listed || listed < revision)
            {
                if (Stopwatch.GetTimestamp() > deadline)
                {
                    throw new BenchmarkFailedException($"gateway {gateway.NodeId} did not report revision {revision} within {ListedWithin.TotalSeconds:F0} s");
                }

                await Task.Delay(200);
            }
        }
    }
}
