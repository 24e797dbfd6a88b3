using System.Diagnostics;

namespace Platform.Gateway.Bench;

/// <summary>The three measurements: idle connections held, upgrades per second, echo round trips per second.</summary>
internal sealed class Scenarios(Sources sources, TextWriter output, TimeSpan settle)
{
    private static readonly TimeSpan OperationLimit = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Holds <paramref name="count"/> idle connections, opened by holder processes of at most
    /// <see cref="Holder.MaxPerProcess"/> connections each (a process's open-file limit), and reads the server's
    /// resident memory before and after.
    /// </summary>
    public async Task IdleAsync(Target target, int count, int concurrency)
    {
        await WarmUpAsync(target);
        await Task.Delay(settle);
        var before = ProcessMemory.RssKiB(target.Pids);
        var shards = (count + Holder.MaxPerProcess - 1) / Holder.MaxPerProcess;
        var clock = Stopwatch.StartNew();
        var holders = Enumerable.Range(0, shards)
            .Select(i => Holder.Start(target, count / shards + (i < count % shards ? 1 : 0), Math.Max(1, concurrency / shards)))
            .ToList();
        try
        {
            var held = await Task.WhenAll(holders.Select(h => h.HeldAsync()));
            var opened = clock.Elapsed;
            await Task.Delay(settle);
            var after = ProcessMemory.RssKiB(target.Pids);
            var open = (await Task.WhenAll(holders.Select(h => h.CountOpenAsync()))).Sum();
            var perConnection = open == 0 ? double.NaN : (after - before) / (double)open;
            var failures = held.Sum(h => h.Failures);
            var failed = failures == 0 ? "0" : $"{failures} (first: {held.First(h => h.Failures > 0).FirstError})";
            Row($"| idle | {target.Name} | {count} | {open} | {before / 1024.0:F0} MiB | {after / 1024.0:F0} MiB | **{perConnection:F1} KiB** | {count / opened.TotalSeconds:F0}/s | {failed} |");
        }
        finally
        {
            foreach (var holder in holders)
            {
                await holder.DisposeAsync();
            }
        }

        await Task.Delay(settle);
    }

    /// <summary>Connect, upgrade, closing handshake, over and over from <paramref name="concurrency"/> loops.</summary>
    public async Task UpgradesAsync(Target target, int concurrency, TimeSpan duration)
    {
        await WarmUpAsync(target);
        var latencies = new Latencies();
        var failures = new Failures();
        var cpu = ProcessMemory.CpuTime(target.Pids);
        var clock = Stopwatch.StartNew();
        await Parallel.ForAsync(0, concurrency, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (_, _) =>
        {
            var scratch = new byte[256];
            while (clock.Elapsed < duration)
            {
                using var limit = new CancellationTokenSource(OperationLimit);
                var started = Stopwatch.GetTimestamp();
                try
                {
                    await using var socket = await RawWebSocket.ConnectAsync(target, sources.Next(), limit.Token);
                    await socket.CloseAsync(scratch, limit.Token);
                    latencies.Add(Stopwatch.GetElapsedTime(started));
                }
                catch (Exception e) when (e is IOException or OperationCanceledException or System.Net.Sockets.SocketException or System.Security.Authentication.AuthenticationException)
                {
                    failures.Add(e);
                }
            }
        });
        var elapsed = clock.Elapsed;
        var serverCpu = ProcessMemory.CpuTime(target.Pids) - cpu;
        Row($"| upgrades | {target.Name} | {concurrency} | {latencies.Count} | **{latencies.Count / elapsed.TotalSeconds:F0}/s** | {latencies.Percentile(50):F2} ms | {latencies.Percentile(99):F2} ms | {serverCpu.TotalMilliseconds * 1000 / Math.Max(1, latencies.Count):F0} µs | {Failed(failures)} |");
    }

    /// <summary><paramref name="connections"/> connections, each sending a binary message and waiting for its echo, for <paramref name="duration"/>.</summary>
    public async Task EchoAsync(Target target, int connections, int payload, TimeSpan duration)
    {
        await WarmUpAsync(target);
        var sockets = new RawWebSocket[connections];
        for (var i = 0; i < connections; i++)
        {
            using var limit = new CancellationTokenSource(OperationLimit);
            sockets[i] = await RawWebSocket.ConnectAsync(target, sources.Next(), limit.Token);
        }

        var latencies = new Latencies();
        var failures = new Failures();
        var cpu = ProcessMemory.CpuTime(target.Pids);
        var clock = Stopwatch.StartNew();
        await Parallel.ForAsync(0, connections, new ParallelOptions { MaxDegreeOfParallelism = connections }, async (i, _) =>
        {
            var frame = RawWebSocket.BinaryFrame(payload);
            var scratch = new byte[64 * 1024];
            using var limit = new CancellationTokenSource(duration + OperationLimit);
            try
            {
                while (clock.Elapsed < duration)
                {
                    var started = Stopwatch.GetTimestamp();
                    await sockets[i].RoundTripAsync(frame, scratch, limit.Token);
                    latencies.Add(Stopwatch.GetElapsedTime(started));
                }
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or System.Net.Sockets.SocketException)
            {
                failures.Add(e);
            }
        });
        var elapsed = clock.Elapsed;
        var serverCpu = ProcessMemory.CpuTime(target.Pids) - cpu;
        foreach (var socket in sockets)
        {
            await socket.DisposeAsync();
        }

        Row($"| echo | {target.Name} | {connections} × {payload} B | {latencies.Count} | **{latencies.Count / elapsed.TotalSeconds:F0}/s** | {latencies.Percentile(50):F2} ms | {latencies.Percentile(99):F2} ms | {serverCpu.TotalMilliseconds * 1000 / Math.Max(1, latencies.Count):F0} µs | {Failed(failures)} |");
    }

    /// <summary>A few hundred unrecorded connections and messages: JIT, pools, TLS session caches.</summary>
    private async Task WarmUpAsync(Target target)
    {
        var frame = RawWebSocket.BinaryFrame(64);
        await Parallel.ForAsync(0, 200, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (_, _) =>
        {
            using var limit = new CancellationTokenSource(OperationLimit);
            var scratch = new byte[4096];
            await using var socket = await RawWebSocket.ConnectAsync(target, sources.Next(), limit.Token);
            await socket.RoundTripAsync(frame, scratch, limit.Token);
            await socket.CloseAsync(scratch, limit.Token);
        });
    }

    private static string Failed(Failures failures) => failures.Count == 0 ? "0" : $"{failures.Count} (first: {failures.First})";

    private void Row(string row)
    {
        output.WriteLine(row);
        output.Flush();
    }
}
