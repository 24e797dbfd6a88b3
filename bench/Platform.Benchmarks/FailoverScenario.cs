using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Npgsql;
using Platform.Contracts;
using Platform.Contracts.Gateways;
using Platform.Contracts.Internal;
using Platform.Contracts.Tenants;
using Platform.Testing;

namespace Platform.Benchmarks;

/// <summary>
/// Two silos A and B over one database. Tenants are created, their leases synced and their configurations
/// replaced through A (so whatever A holds for them is in use); writers keep replacing configurations through A
/// while A is killed with SIGKILL. Measured from the kill: when B first answers <c>/healthz</c>, and per tenant when
/// a lease sync and a configuration write through B first succeed. Every configuration write A acknowledged must
/// be read back through B, and no tenant's leases may sum above its MaxConnections. B serves a tenant of its own
/// first, so that what is measured is recovery, not B's first requests (JIT, connection pools).
/// </summary>
internal static class FailoverScenario
{
    private const int Tenants = 16;
    private const int Writers = 4;
    private const int MaxConnections = 50;
    private const int Wanted = 5;
    private const string GatewayId = "failover-gw";
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan WritesBeforeKill = TimeSpan.FromSeconds(1);

    public static async Task RunAsync(BenchContext context, SiloProcess a, SiloProcess b)
    {
        var recoverWithin = context.Options.TimeLimit;
        using var operatorB = context.Client(b.BaseAddress, context.Keys.OperatorKey, AttemptTimeout);
        using var clusterB = context.Client(b.BaseAddress, context.Build.ClusterSecret, AttemptTimeout);
        using var anonymousB = context.Client(b.BaseAddress, null, AttemptTimeout);
        var members = await ClusterMembersAsync(context, b);

        var tenants = new List<TenantResponse>();
        for (var t = 0; t < Tenants; t++)
        {
            tenants.Add(await context.CreateTenantAsync(string.Create(CultureInfo.InvariantCulture, $"failover-{t}"), ConfigScenarios.Config(MaxConnections)));
        }

        using (var register = await context.Cluster.PostAsJsonAsync(
            HttpLinkRoutes.Register, BenchContext.RegisterRequest(GatewayId, "http://127.0.0.1:9"), PlatformJson.Options))
        {
            await BenchContext.EnsureAsync(register, HttpStatusCode.OK, $"POST {HttpLinkRoutes.Register}");
        }

        foreach (var tenant in tenants)
        {
            using var response = await context.Cluster.PostAsJsonAsync(
                HttpLinkRoutes.Path(HttpLinkRoutes.Leases, GatewayId), BenchContext.LeaseRequest(tenant.Id, Wanted), PlatformJson.Options);
            await BenchContext.EnsureAsync(response, HttpStatusCode.OK, "POST leases through A");
        }

        await WarmUpAsync(context, b);

        using var stop = new CancellationTokenSource();
        var heartbeats = HeartbeatAsync(clusterB, stop.Token);

        // Writers replace configurations through A until A dies under them; what A acknowledged is recorded.
        var acknowledged = new ConcurrentDictionary<string, (long Revision, int MaxConnections)>();
        var ackCount = 0;
        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            var mine = tenants.Where((_, i) => i % Writers == w).ToList();
            var revisions = mine.ToDictionary(t => t.Slug, t => t.ConfigRevision);
            for (var round = 0; ; round++)
            {
                var tenant = mine[round % mine.Count];
                var max = 1 + (round % MaxConnections);
                try
                {
                    var revision = await ConfigScenarios.ReplaceAsync(context.Operator, tenant.Slug, revisions[tenant.Slug], ConfigScenarios.Config(max));
                    revisions[tenant.Slug] = revision;
                    acknowledged[tenant.Slug] = (revision, max);
                    Interlocked.Increment(ref ackCount);
                }
                catch (HttpRequestException)
                {
                    return; // A is gone.
                }
            }
        })).ToList();

        await Task.Delay(WritesBeforeKill);
        var killedAt = Stopwatch.GetTimestamp();
        await a.KillAsync();
        await Task.WhenAll(writers);

        var healthz = ProbeAsync(killedAt, recoverWithin, async ct =>
        {
            using var response = await anonymousB.GetAsync(new Uri("/healthz", UriKind.Relative), ct);
            return response.StatusCode == HttpStatusCode.OK;
        });
        var leases = tenants.Select(tenant => ProbeAsync(killedAt, recoverWithin, async ct =>
        {
            using var response = await clusterB.PostAsJsonAsync(
                HttpLinkRoutes.Path(HttpLinkRoutes.Leases, GatewayId), BenchContext.LeaseRequest(tenant.Id, Wanted + 1), PlatformJson.Options, ct);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return false;
            }

            var grant = (await response.Content.ReadFromJsonAsync<LeaseSyncResponse>(BenchContext.ReadJson, ct))!.Leases.Single();
            return grant.Slots <= grant.MaxConnections ? true : throw new BenchmarkFailedException($"lease grant {grant} exceeds MaxConnections");
        })).ToList();
        var lostWrites = 0;
        var unacknowledgedCommitted = 0;
        var writes = tenants.Select(tenant => ProbeAsync(killedAt, recoverWithin, async ct =>
        {
            using var read = await operatorB.GetAsync(ConfigScenarios.ConfigPath(tenant.Slug), ct);
            if (read.StatusCode != HttpStatusCode.OK)
            {
                return false;
            }

            var current = (await read.Content.ReadFromJsonAsync<ConfigResponse>(BenchContext.ReadJson, ct))!;
            if (acknowledged.TryGetValue(tenant.Slug, out var acked))
            {
                if (current.Revision < acked.Revision
                    || (current.Revision == acked.Revision && current.Config.Limits.MaxConnections != acked.MaxConnections))
                {
                    Interlocked.Increment(ref lostWrites);
                }
                else if (current.Revision > acked.Revision)
                {
                    // A committed the write in flight when it died but could not answer it.
                    Interlocked.Increment(ref unacknowledgedCommitted);
                }
            }

            using var write = await ConfigScenarios.PutAsync(operatorB, tenant.Slug, current.Revision, ConfigScenarios.Config(MaxConnections), ct);
            return write.StatusCode == HttpStatusCode.OK;
        })).ToList();

        var healthzAfter = await healthz;
        var leaseTimes = await Task.WhenAll(leases);
        var writeTimes = await Task.WhenAll(writes);
        await stop.CancelAsync();
        await heartbeats;

        var overshoot = await OvershootAsync(context);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{context.Build.Name,-8} kill -9 of silo A ({members}): B answered /healthz after {healthzAfter.TotalSeconds:F2} s"));
        Console.WriteLine($"{context.Build.Name,-8}   first lease sync through B per tenant ({Tenants} tenants): {Spread(leaseTimes)}");
        Console.WriteLine($"{context.Build.Name,-8}   first config write through B per tenant ({Tenants} tenants): {Spread(writeTimes)}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{context.Build.Name,-8}   writes acknowledged by A: {ackCount}; lost: {lostWrites}; committed by A without an answer: {unacknowledgedCommitted}; tenants with leases above MaxConnections: {overshoot}"));
        if (lostWrites > 0 || overshoot > 0)
        {
            throw new BenchmarkFailedException($"{lostWrites} acknowledged writes lost, {overshoot} tenants over MaxConnections after the kill");
        }
    }

    /// <summary>B's request paths warmed on a tenant outside the measured set.</summary>
    private static async Task WarmUpAsync(BenchContext context, SiloProcess b)
    {
        using var operatorB = context.Client(b.BaseAddress, context.Keys.OperatorKey);
        using var clusterB = context.Client(b.BaseAddress, context.Build.ClusterSecret);
        var tenant = await context.CreateTenantAsync("failover-warmup", ConfigScenarios.Config(MaxConnections));
        var revision = tenant.ConfigRevision;
        for (var i = 0; i < 20; i++)
        {
            using (var lease = await clusterB.PostAsJsonAsync(
                HttpLinkRoutes.Path(HttpLinkRoutes.Leases, GatewayId), BenchContext.LeaseRequest(tenant.Id, 1 + (i % Wanted)), PlatformJson.Options))
            {
                await BenchContext.EnsureAsync(lease, HttpStatusCode.OK, "POST leases through B (warm-up)");
            }

            using (var read = await operatorB.GetAsync(ConfigScenarios.ConfigPath(tenant.Slug)))
            {
                await BenchContext.EnsureAsync(read, HttpStatusCode.OK, "GET config through B (warm-up)");
            }

            revision = await ConfigScenarios.ReplaceAsync(operatorB, tenant.Slug, revision, ConfigScenarios.Config(MaxConnections - i));
        }
    }

    /// <summary>
    /// Repeats <paramref name="attempt"/> (each bounded by the clients' attempt timeout) until it succeeds; returns the
    /// time from <paramref name="since"/>. An attempt that timed out, was refused or answered an error status (such as
    /// <c>503 cluster_unavailable</c>) is tried again at once.
    /// </summary>
    private static async Task<TimeSpan> ProbeAsync(long since, TimeSpan within, Func<CancellationToken, Task<bool>> attempt)
    {
        while (Stopwatch.GetElapsedTime(since) < within)
        {
            try
            {
                if (await attempt(CancellationToken.None))
                {
                    return Stopwatch.GetElapsedTime(since);
                }
            }
            catch (HttpRequestException)
            {
                // Refused or reset: the silo asked is not serving this yet.
            }
            catch (TaskCanceledException)
            {
                // The attempt timed out: a grain call still waiting for the dead silo.
            }

            await Task.Delay(20);
        }

        throw new BenchmarkFailedException($"no success within {within.TotalSeconds:F0} s of the kill");
    }

    private static async Task<string> ClusterMembersAsync(BenchContext context, SiloProcess b)
    {
        using var client = context.Client(b.BaseAddress, context.Keys.OperatorKey);
        var deadline = Stopwatch.GetTimestamp() + (long)(60 * Stopwatch.Frequency);
        while (true)
        {
            using var response = await client.GetAsync(new Uri("/v1/silos?limit=100", UriKind.Relative));
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return "no cluster: each silo serves from the database alone";
            }

            var silos = await BenchContext.ReadAsync<Page<SiloResponse>>(response, HttpStatusCode.OK, "GET /v1/silos");
            var active = silos.Items.Count(s => s.Status == SiloStatuses.Active);
            if (active >= 2)
            {
                return string.Create(CultureInfo.InvariantCulture, $"one Orleans cluster of {active} silos");
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new BenchmarkFailedException($"the two silos did not form one cluster within 60 s ({active} active)");
            }

            await Task.Delay(200);
        }
    }

    private static async Task HeartbeatAsync(HttpClient clusterB, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(2));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                try
                {
                    using var response = await clusterB.PostAsJsonAsync(
                        HttpLinkRoutes.Path(HttpLinkRoutes.Heartbeat, GatewayId), new HeartbeatRequest(0, 0), PlatformJson.Options, cancellationToken);
                }
                catch (HttpRequestException)
                {
                    // A missed heartbeat is retried on the next tick, as a gateway does.
                }
                catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    // Timed out while the cluster recovers: retried on the next tick.
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The measurement is over.
        }
    }

    private static async Task<int> OvershootAsync(BenchContext context)
    {
        await using var dataSource = NpgsqlDataSource.Create(context.Database.ConnectionString);
        await using var command = dataSource.CreateCommand(
            """
            SELECT count(*) FROM (
                SELECT l.tenant_id FROM quota_leases l JOIN tenants t ON t.id = l.tenant_id
                GROUP BY l.tenant_id, t.max_connections HAVING sum(l.slots) > t.max_connections) over_quota
            """);
        return Convert.ToInt32(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    private static string Spread(TimeSpan[] times)
    {
        var seconds = times.Select(t => t.TotalSeconds).Order().ToArray();
        return string.Create(CultureInfo.InvariantCulture,
            $"min {seconds[0]:F2} s, median {seconds[seconds.Length / 2]:F2} s, max {seconds[^1]:F2} s");
    }
}
