using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts;
using Platform.Contracts.Connections;
using Platform.Contracts.Gateways;
using Platform.Contracts.Internal;
using Platform.Contracts.Tenants;
using Platform.Silo.Internal;
using Platform.Testing;

namespace Platform.Silo.Tests.Internal;

public sealed class GatewayReaperTests
{
    [Fact]
    public async Task ReapOnceAsync_SilentGateway_MarksDeadClosesConnectionsAndFreesLeases()
    {
        await using var database = await TestDatabase.CreateAsync();
        var time = new ManualTimeProvider(DateTimeOffset.UtcNow);
        await using var silo = new SiloApp(database) { Time = time };
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", maxConnections: 10);
        await silo.RegisterGatewayAsync("gw-silent");
        await silo.RegisterGatewayAsync("gw-alive");
        Assert.Equal(6, (await silo.SyncLeasesAsync("gw-silent", new LeaseWant(tenantId, 6)).ConfigureAwait(true)).Leases[0].Slots);
        Assert.True(await silo.SendEventsAsync("gw-silent", new ConnectionEventBatch(
            [InternalTestFixture.Opened("gw-silent.1", tenantId).Ws(time.GetUtcNow()), InternalTestFixture.Opened("gw-silent.2", tenantId).Ws(time.GetUtcNow())], [], [])));
        Assert.True(await silo.SendEventsAsync("gw-alive", new ConnectionEventBatch([InternalTestFixture.Opened("gw-alive.1", tenantId).Ws(time.GetUtcNow())], [], [])));

        // Past the 15 s timeout; only gw-alive keeps heartbeating.
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.NotNull(await silo.HeartbeatAsync("gw-alive"));
        time.Advance(TimeSpan.FromSeconds(10));
        await silo.Services.GetRequiredService<GatewayReaper>().ReapOnceAsync(CancellationToken.None);

        var gateways = await silo.OperatorClient().GetFromJsonAsync<Page<GatewayResponse>>("/v1/gateways", PlatformJson.Options);
        Assert.Equal(GatewayStatuses.Dead, gateways!.Items.Single(g => g.Id == "gw-silent").Status);
        Assert.Equal(GatewayStatuses.Up, gateways!.Items.Single(g => g.Id == "gw-alive").Status);
        Assert.Equal(0L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT count(*) FROM quota_leases WHERE gateway_id = 'gw-silent'"));
        var open = await silo.OperatorClient().GetFromJsonAsync<Page<ConnectionResponse>>("/v1/tenants/acme/connections", PlatformJson.Options);
        Assert.Equal(["gw-alive.1"], open!.Items.Select(c => c.Id));
        var closed = await silo.OperatorClient().GetFromJsonAsync<ConnectionResponse>("/v1/tenants/acme/connections/gw-silent.1", PlatformJson.Options);
        Assert.Equal(GatewayReaper.LostReason, closed!.CloseReason);
        Assert.NotNull(closed.ClosedAt);
        // The dead node learns it must register again; its freed slots go to the live gateway.
        Assert.Null(await silo.HeartbeatAsync("gw-silent"));
        Assert.Equal(10, (await silo.SyncLeasesAsync("gw-alive", new LeaseWant(tenantId, 10))).Leases[0].Slots);
    }

    [Fact]
    public async Task ReapOnceAsync_ClosedConnectionsPastRetention_AreDeleted()
    {
        await using var database = await TestDatabase.CreateAsync();
        var time = new ManualTimeProvider(DateTimeOffset.UtcNow);
        await using var silo = new SiloApp(database, new Dictionary<string, string?> { ["Platform:ClosedConnectionRetentionMinutes"] = "5" }) { Time = time };
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-1");
        var now = time.GetUtcNow();
        Assert.True(await silo.SendEventsAsync("gw-1", new ConnectionEventBatch(
            [InternalTestFixture.Opened("gw-1.1", tenantId).Ws(now), InternalTestFixture.Opened("gw-1.2", tenantId).Ws(now)], [],
            [new ConnectionClosed(new ConnectionCounters("gw-1.1", 1, 1, 1, 1, now), now, 1000, "bye")])));
        var reaper = silo.Services.GetRequiredService<GatewayReaper>();

        await AdvanceHeartbeatingAsync(silo, time, TimeSpan.FromMinutes(4));
        await reaper.ReapOnceAsync(CancellationToken.None);
        Assert.Equal(2L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT count(*) FROM connections"));

        await AdvanceHeartbeatingAsync(silo, time, TimeSpan.FromMinutes(2));
        await reaper.ReapOnceAsync(CancellationToken.None);
        Assert.Equal("gw-1.2", await InternalTestFixture.QueryScalarAsync<string>(silo, "SELECT string_agg(id, ',') FROM connections"));
    }

    [Fact]
    public async Task ReapOnceAsync_SeveralSilosAtOnce_DeclareEachNodeDeadOnce()
    {
        await using var database = await TestDatabase.CreateAsync();
        var time = new ManualTimeProvider(DateTimeOffset.UtcNow);
        await using var silo = new SiloApp(database) { Time = time };
        for (var i = 0; i < 5; i++)
        {
            await silo.RegisterGatewayAsync($"gw-{i}");
        }

        time.Advance(TimeSpan.FromSeconds(30));
        var reaper = silo.Services.GetRequiredService<GatewayReaper>();
        var passes = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => reaper.ReapOnceAsync(CancellationToken.None)));

        Assert.Equal(5L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT count(*) FROM gateway_nodes WHERE status = 'dead'"));
        Assert.True(passes.Sum(p => p.Count) <= 5);
    }

    // The background reaper runs whenever the fake clock passes its period, so time moves in steps
    // shorter than the heartbeat timeout with a heartbeat after each.
    private static async Task AdvanceHeartbeatingAsync(SiloApp silo, ManualTimeProvider time, TimeSpan total)
    {
        for (var moved = TimeSpan.Zero; moved < total; moved += TimeSpan.FromSeconds(10))
        {
            time.Advance(TimeSpan.FromSeconds(10));
            Assert.NotNull(await silo.HeartbeatAsync("gw-1"));
        }
    }
}
