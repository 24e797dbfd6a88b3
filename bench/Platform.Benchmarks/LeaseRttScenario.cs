using System.Diagnostics;
using System.Globalization;
using Platform.Testing;

namespace Platform.Benchmarks;

/// <summary>
/// One gateway's lease sync round trip, as the build's gateways make it (<see cref="ClusterFlavor"/>): a fake gateway
/// registers and keeps heartbeating, then makes N syncs one after another (a gateway has one sync in flight at a
/// time), each stating new slot totals for 1, 10 and then 100 tenants, so every sync both takes and gives back slots.
/// </summary>
internal static class LeaseRttScenario
{
    private const int MaxConnections = 1000;
    private const int Warmup = 50;
    private static readonly int[] Sizes = [1, 10, 100];

    public static async Task RunAsync(BenchContext context, SiloProcess silo)
    {
        var count = context.Options.Count ?? 2000;
        // Each size gets a third of the scenario's time limit.
        var budget = context.Options.TimeLimit / Sizes.Length;
        var tenants = new List<Guid>();
        for (var t = 0; t < Sizes[^1]; t++)
        {
            tenants.Add((await context.CreateTenantAsync(string.Create(CultureInfo.InvariantCulture, $"rtt-{t}"), ConfigScenarios.Config(MaxConnections))).Id);
        }

        await using LeaseLink link = context.Build.Flavor switch
        {
            ClusterFlavor.Http => new HttpLeaseLink(context),
            ClusterFlavor.Orleans => await OrleansLeaseLink.ConnectAsync(silo),
            _ => throw new InvalidOperationException($"unknown flavor {context.Build.Flavor}"),
        };
        var interval = await link.RegisterAsync("bench-rtt");

        using var stop = new CancellationTokenSource();
        var heartbeats = HeartbeatAsync(link, interval, stop.Token);
        try
        {
            foreach (var size in Sizes)
            {
                var how = context.Build.Flavor == ClusterFlavor.Http ? "POST /internal/v1/gateways/{id}/leases" : "IGatewayLinkGrain.SyncLeasesAsync";
                var recorder = context.Recorder(string.Create(CultureInfo.InvariantCulture, $"lease sync round trip, {how}, {size} tenant{(size == 1 ? "" : "s")} per sync (sequential)"));
                var deadline = Stopwatch.GetTimestamp() + (long)(budget.TotalSeconds * Stopwatch.Frequency);
                for (var i = -Warmup; i < count && Stopwatch.GetTimestamp() < deadline; i++)
                {
                    if (i == 0)
                    {
                        recorder.Start();
                    }

                    var wants = Wants(tenants, size, i);
                    var started = Stopwatch.GetTimestamp();
                    var grants = await link.SyncAsync(wants);
                    var elapsed = Stopwatch.GetElapsedTime(started);
                    Check(wants, grants);
                    if (i >= 0)
                    {
                        recorder.Add(elapsed);
                    }
                }

                recorder.Stop();
                Console.WriteLine(recorder.Summary("syncs/s"));
                if (recorder.Count < count)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  note: {budget.TotalSeconds:F0} s for this size reached after {recorder.Count} of {count} syncs"));
                }
            }
        }
        finally
        {
            await stop.CancelAsync();
            await heartbeats;
        }
    }

    // Totals between 1 and 8 that change on every sync, different per tenant.
    private static List<(Guid TenantId, int Slots)> Wants(List<Guid> tenants, int size, int index) =>
        [.. tenants.Take(size).Select((id, t) => (id, 1 + ((index + t) & 7)))];

    private static void Check(List<(Guid TenantId, int Slots)> wants, IReadOnlyList<(Guid TenantId, int Slots, int MaxConnections)> grants)
    {
        if (grants.Count != wants.Count)
        {
            throw new BenchmarkFailedException($"a sync of {wants.Count} tenants answered {grants.Count} grants");
        }

        var wanted = wants.ToDictionary(w => w.TenantId, w => w.Slots);
        foreach (var (tenantId, slots, maxConnections) in grants)
        {
            if (!wanted.TryGetValue(tenantId, out var want) || slots > want || slots > maxConnections || maxConnections != MaxConnections)
            {
                throw new BenchmarkFailedException($"unexpected grant {slots} of {maxConnections} for tenant {tenantId} (wanted {want})");
            }
        }
    }

    private static async Task HeartbeatAsync(LeaseLink link, TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                await link.HeartbeatAsync(cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The measurement is over.
        }
    }
}
