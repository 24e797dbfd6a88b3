using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Internal;
using Platform.Contracts.Plans;

namespace Platform.Benchmarks;

/// <summary>
/// Lease grant throughput: G registered gateways (kept alive by heartbeats), C concurrent callers each
/// speaking for one gateway, each call stating a new desired slot total for one of eight tenants.
/// </summary>
internal static class LeasesScenario
{
    private const int Tenants = 8;

    public static async Task RunAsync(BenchContext context)
    {
        var count = context.Options.Count ?? 4000;
        var gateways = new List<string>();
        RegisterGatewayResponse? timing = null;
        for (var g = 0; g < context.Options.Gateways; g++)
        {
            var nodeId = string.Create(CultureInfo.InvariantCulture, $"bench-gw-{g}");
            using var response = await context.Cluster.PostAsJsonAsync(
                HttpLinkRoutes.Register,
                BenchContext.RegisterRequest(nodeId, string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{59000 + g}")),
                PlatformJson.Options);
            timing = await BenchContext.ReadAsync<RegisterGatewayResponse>(response, HttpStatusCode.OK, $"POST {HttpLinkRoutes.Register}");
            gateways.Add(timing.NodeId);
        }

        var tenants = new List<Guid>();
        for (var t = 0; t < Tenants; t++)
        {
            var config = ConfigScenarios.Config(LimitsConfig.MaxMaxConnections);
            // Above the default plan's ceiling: the operator gives these tenants a plan that allows it.
            var plan = new TenantPlan { MaxConnections = LimitsConfig.MaxMaxConnections };
            tenants.Add((await context.CreateTenantAsync(string.Create(CultureInfo.InvariantCulture, $"lease-{t}"), config, plan)).Id);
        }

        using var stopHeartbeats = new CancellationTokenSource();
        var heartbeats = HeartbeatAsync(context, gateways, TimeSpan.FromSeconds(timing!.HeartbeatIntervalSeconds), stopHeartbeats.Token);

        var recorder = context.Recorder(
            $"POST {HttpLinkRoutes.Leases} ({context.Options.Concurrency} concurrent callers, {gateways.Count} gateways, {Tenants} tenants)");
        await context.RunAsync(recorder, count, context.Options.Concurrency, async (worker, index) =>
        {
            var gateway = gateways[worker % gateways.Count];
            var tenant = tenants[index % Tenants];
            // Desired totals move up and down, so calls both take and give back slots.
            var wanted = (index * 37 % 200) + 1;
            using var response = await context.Cluster.PostAsJsonAsync(
                HttpLinkRoutes.Path(HttpLinkRoutes.Leases, gateway),
                BenchContext.LeaseRequest(tenant, wanted),
                PlatformJson.Options);
            var result = await BenchContext.ReadAsync<LeaseSyncResponse>(response, HttpStatusCode.OK, "POST leases");
            if (result.Leases is not [var grant] || grant.TenantId != tenant || grant.Slots > wanted || grant.Slots > grant.MaxConnections)
            {
                throw new BenchmarkFailedException($"unexpected lease answer for {wanted} slots: {string.Join(", ", result.Leases)}");
            }
        });

        await stopHeartbeats.CancelAsync();
        await heartbeats;
        Console.WriteLine(recorder.Summary());
    }

    private static async Task HeartbeatAsync(BenchContext context, List<string> gateways, TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                foreach (var gateway in gateways)
                {
                    using var response = await context.Cluster.PostAsJsonAsync(
                        HttpLinkRoutes.Path(HttpLinkRoutes.Heartbeat, gateway), new HeartbeatRequest(0, 0), PlatformJson.Options, cancellationToken);
                    await BenchContext.EnsureAsync(response, HttpStatusCode.OK, "POST heartbeat");
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The measurement is over.
        }
    }
}
