using Microsoft.Extensions.DependencyInjection;
using Orleans;
using Orleans.Core.Internal;
using Platform.Cluster;
using Platform.Contracts.Internal;
using Platform.Contracts.Problems;
using Platform.Silo.Quotas;
using Platform.Silo.Tests.Internal;
using Platform.Testing;

namespace Platform.Silo.Tests.Quotas;

public sealed class TenantQuotaGrainTests
{
    [Fact]
    public async Task Leases_ManyConcurrentGatewaysForOneTenant_NeverExceedMaxConnections()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", maxConnections: 100);
        var gateways = Enumerable.Range(0, 4).Select(i => $"gw-{i}").ToArray();
        foreach (var gateway in gateways)
        {
            await silo.RegisterGatewayAsync(gateway);
        }

        // 12 callers over 4 gateways, each wanting 40 slots, several rounds of grabbing and shrinking.
        var callers = Enumerable.Range(0, 12).Select(async i =>
        {
            var granted = new List<int>();
            for (var round = 0; round < 5; round++)
            {
                var answer = await silo.SyncLeasesAsync(gateways[i % gateways.Length], new LeaseWant(tenantId, round % 2 == 0 ? 40 : 15 + i));
                granted.Add(answer.Leases.Single().Slots);
                var sum = await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT COALESCE(sum(slots), 0) FROM quota_leases WHERE tenant_id = @tenantId", new { tenantId });
                Assert.InRange(sum, 0, 100);
            }

            return granted;
        }).ToList();
        await Task.WhenAll(callers);

        var final = await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT COALESCE(sum(slots), 0) FROM quota_leases WHERE tenant_id = @tenantId", new { tenantId });
        Assert.InRange(final, 1, 100);
        var grants = await Task.WhenAll(gateways.Select(g => silo.SyncLeasesAsync(g, new LeaseWant(tenantId, 40))));
        Assert.InRange(grants.Sum(g => g.Leases[0].Slots), 1, 100);
        Assert.All(grants, g => Assert.Equal(100, g.Leases[0].MaxConnections));
    }

    [Fact]
    public async Task Leases_GiveBack_FreesSlotsForOthersAndZeroDeletesRow()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", maxConnections: 10);
        await silo.RegisterGatewayAsync("gw-a");
        await silo.RegisterGatewayAsync("gw-b");

        var a = await silo.SyncLeasesAsync("gw-a", new LeaseWant(tenantId, 8));
        var bWhileFull = await silo.SyncLeasesAsync("gw-b", new LeaseWant(tenantId, 8));
        var aShrunk = await silo.SyncLeasesAsync("gw-a", new LeaseWant(tenantId, 3));
        var bAfter = await silo.SyncLeasesAsync("gw-b", new LeaseWant(tenantId, 8));
        var aReleased = await silo.SyncLeasesAsync("gw-a", new LeaseWant(tenantId, 0));

        Assert.Equal(new LeaseGrant(tenantId, 8, 10), a.Leases.Single());
        Assert.Equal(2, bWhileFull.Leases.Single().Slots);
        Assert.Equal(3, aShrunk.Leases.Single().Slots);
        Assert.Equal(7, bAfter.Leases.Single().Slots);
        Assert.Equal(0, aReleased.Leases.Single().Slots);
        Assert.Equal(0L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT count(*) FROM quota_leases WHERE gateway_id = 'gw-a'"));
    }

    [Fact]
    public async Task Leases_UnknownTenant_GrantsNothing()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await silo.RegisterGatewayAsync("gw-a");
        var unknown = Guid.NewGuid();

        var answer = await silo.SyncLeasesAsync("gw-a", new LeaseWant(unknown, 5));

        Assert.Equal(new LeaseGrant(unknown, 0, 0), answer.Leases.Single());
    }

    [Fact]
    public async Task Leases_UnknownOrDeadGateway_AnswersNullGatewayUnknown()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-dead");
        await InternalTestFixture.ExecuteAsync(silo, "UPDATE gateway_nodes SET status = 'dead', dead_at = now() WHERE id = 'gw-dead'");

        foreach (var node in new[] { "gw-dead", "gw-never" })
        {
            Assert.Null(await silo.Link(node).SyncLeasesAsync(new LeaseSyncRequest([new LeaseWant(tenantId, 5)])));
        }

        Assert.Equal(0L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT count(*) FROM quota_leases"));
    }

    [Fact]
    public async Task Leases_EightGatewaysSyncingConcurrently_NoRoundEverGrantsBeyondMax()
    {
        const int Max = 40;
        await using var database = await TestDatabase.CreateAsync();
        // The simulated gateways send no heartbeats: twenty rounds of eight syncs may outlast the default 15 s on a busy
        // machine, and a node declared dead would end the test for a reason it does not test.
        await using var silo = new SiloApp(database, new Dictionary<string, string?>
        {
            ["Platform:HeartbeatIntervalSeconds"] = "60",
            ["Platform:HeartbeatTimeoutSeconds"] = "600",
        });
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", maxConnections: Max);
        var gateways = Enumerable.Range(0, 8).Select(i => new SimulatedGateway($"gw-{i}", new Random(i))).ToArray();
        foreach (var gateway in gateways)
        {
            await silo.RegisterGatewayAsync(gateway.Id);
        }

        for (var round = 0; round < 20; round++)
        {
            await Task.WhenAll(gateways.Select(g => g.SyncAsync(silo, tenantId)));

            var stored = await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT COALESCE(sum(slots), 0) FROM quota_leases WHERE tenant_id = @tenantId", new { tenantId });
            Assert.InRange(stored, 0, Max);
            // What the gateways may really fill: each holds its last answer, or more connections if a grant was lowered under them.
            Assert.InRange(gateways.Sum(g => Math.Max(g.Held, g.InUse)), 0, Max);
        }

        Assert.True(gateways.Sum(g => g.InUse) > 0, "the simulated gateways admitted connections");
    }

    [Fact]
    public async Task Reclaim_IdleGatewayHoldsEverySlot_ShortGatewayGetsThemOnlyAfterTheIdleOneConfirmed()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", maxConnections: 5);
        await silo.RegisterGatewayAsync("gw-a");
        await silo.RegisterGatewayAsync("gw-b");
        Assert.Equal(5, (await silo.SyncLeasesAsync("gw-a", new LeaseWant(tenantId, 5, InUse: 0, Held: 0))).Leases[0].Slots);
        Assert.Equal(5, (await silo.SyncLeasesAsync("gw-a", new LeaseWant(tenantId, 5, InUse: 0, Held: 5))).Leases[0].Slots);

        // gw-b has a connection waiting: nothing is free, gw-a's five are unused.
        var short1 = (await silo.SyncLeasesAsync("gw-b", new LeaseWant(tenantId, 5, InUse: 0, Held: 0, Waiting: 1))).Leases[0];
        Assert.Equal(new LeaseGrant(tenantId, 0, 5, Reclaiming: true), short1);

        // gw-a is told to hold what it uses; until it says it holds no more, its five still count as its own.
        var lowered = (await silo.SyncLeasesAsync("gw-a", new LeaseWant(tenantId, 5, InUse: 0, Held: 5))).Leases[0];
        Assert.Equal(0, lowered.Slots);
        Assert.Equal(5L, await LeasedAsync(silo, tenantId, "gw-a"));
        var short2 = (await silo.SyncLeasesAsync("gw-b", new LeaseWant(tenantId, 5, InUse: 0, Held: 0, Waiting: 1))).Leases[0];
        Assert.Equal(0, short2.Slots);
        Assert.True(short2.Reclaiming);

        // gw-a confirms; the freed slots are reserved for gw-b, so gw-a's own idle ask does not take them back first.
        Assert.Equal(0, (await silo.SyncLeasesAsync("gw-a", new LeaseWant(tenantId, 1, InUse: 0, Held: 0))).Leases[0].Slots);
        Assert.Equal(0L, await LeasedAsync(silo, tenantId, "gw-a"));
        Assert.Equal(0, (await silo.SyncLeasesAsync("gw-a", new LeaseWant(tenantId, 1, InUse: 0, Held: 0))).Leases[0].Slots);
        var filled = (await silo.SyncLeasesAsync("gw-b", new LeaseWant(tenantId, 5, InUse: 0, Held: 0, Waiting: 1))).Leases[0];
        Assert.Equal(new LeaseGrant(tenantId, 5, 5), filled);
        Assert.Equal(5L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT COALESCE(sum(slots), 0) FROM quota_leases WHERE tenant_id = @tenantId", new { tenantId }));
    }

    [Fact]
    public async Task Reclaim_NewActivation_GatewayNotSyncedSinceIsAskedToReport_ShortGatewayWaitsAndGetsItsUnusedSlots()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", maxConnections: 6);
        await silo.RegisterGatewayAsync("gw-a");
        await silo.RegisterGatewayAsync("gw-b");
        Assert.Equal(6, (await silo.SyncLeasesAsync("gw-a", new LeaseWant(tenantId, 6, InUse: 0, Held: 0))).Leases[0].Slots);
        Assert.Equal(6, (await silo.SyncLeasesAsync("gw-a", new LeaseWant(tenantId, 6, InUse: 1, Held: 6))).Leases[0].Slots);

        // The grain starts again (its silo died): it loads gw-a's six from PostgreSQL, but not how many gw-a uses.
        var grains = silo.Services.GetRequiredService<IGrainFactory>();
        await grains.GetGrain<ITenantQuotaGrain>(tenantId).Cast<IGrainManagementExtension>().DeactivateOnIdle();

        // gw-b has a connection waiting: it is told to wait, and gw-a, silent since, is asked to report.
        var waiting = (await silo.SyncLeasesAsync("gw-b", new LeaseWant(tenantId, 2, InUse: 0, Held: 0, Waiting: 1))).Leases[0];
        Assert.Equal(new LeaseGrant(tenantId, 0, 6, Reclaiming: true), waiting);
        var asked = silo.GatewayOf("gw-a");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!asked.Received.OfType<SyncLeasesCommand>().Any(c => c.TenantIds.Contains(tenantId)) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Contains(asked.Received.OfType<SyncLeasesCommand>(), c => c.TenantIds.Contains(tenantId));

        // gw-a reports one in use: lowered to it, and once it confirms, gw-b has its slots.
        Assert.Equal(1, (await silo.SyncLeasesAsync("gw-a", new LeaseWant(tenantId, 6, InUse: 1, Held: 6))).Leases[0].Slots);
        Assert.Equal(1, (await silo.SyncLeasesAsync("gw-a", new LeaseWant(tenantId, 1, InUse: 1, Held: 1))).Leases[0].Slots);
        Assert.Equal(new LeaseGrant(tenantId, 2, 6), (await silo.SyncLeasesAsync("gw-b", new LeaseWant(tenantId, 2, InUse: 0, Held: 0, Waiting: 1))).Leases[0]);
        Assert.Equal(3L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT COALESCE(sum(slots), 0) FROM quota_leases WHERE tenant_id = @tenantId", new { tenantId }));
    }

    [Fact]
    public async Task Reclaim_GatewayWithOpenConnections_LoweredToItsInUseNeverBelow()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", maxConnections: 10);
        await silo.RegisterGatewayAsync("gw-a");
        await silo.RegisterGatewayAsync("gw-b");
        Assert.Equal(10, (await silo.SyncLeasesAsync("gw-a", new LeaseWant(tenantId, 10, InUse: 0, Held: 0))).Leases[0].Slots);
        Assert.Equal(10, (await silo.SyncLeasesAsync("gw-a", new LeaseWant(tenantId, 10, InUse: 4, Held: 10))).Leases[0].Slots);

        Assert.True((await silo.SyncLeasesAsync("gw-b", new LeaseWant(tenantId, 16, InUse: 0, Held: 0, Waiting: 3))).Leases[0].Reclaiming);
        // Seven in use by now (three more arrived since gw-a last reported): lowered to seven, not to the four the silo knew.
        Assert.Equal(7, (await silo.SyncLeasesAsync("gw-a", new LeaseWant(tenantId, 10, InUse: 7, Held: 10))).Leases[0].Slots);
        Assert.Equal(7, (await silo.SyncLeasesAsync("gw-a", new LeaseWant(tenantId, 23, InUse: 7, Held: 7))).Leases[0].Slots);

        var b = (await silo.SyncLeasesAsync("gw-b", new LeaseWant(tenantId, 16, InUse: 0, Held: 0, Waiting: 3))).Leases[0];
        Assert.Equal(3, b.Slots);
        Assert.Equal(10L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT COALESCE(sum(slots), 0) FROM quota_leases WHERE tenant_id = @tenantId", new { tenantId }));
    }

    [Fact]
    public async Task Reclaim_GatewayThatDoesNotReportHeld_IsNeverLoweredAndOthersAreNotToldToWait()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", maxConnections: 4);
        await silo.RegisterGatewayAsync("gw-old");
        await silo.RegisterGatewayAsync("gw-new");
        Assert.Equal(4, (await silo.SyncLeasesAsync("gw-old", new LeaseWant(tenantId, 4))).Leases[0].Slots);

        var answer = (await silo.SyncLeasesAsync("gw-new", new LeaseWant(tenantId, 4, InUse: 0, Held: 0, Waiting: 2))).Leases[0];
        Assert.Equal(new LeaseGrant(tenantId, 0, 4), answer);
        Assert.Equal(4, (await silo.SyncLeasesAsync("gw-old", new LeaseWant(tenantId, 4))).Leases[0].Slots);
    }

    [Fact]
    public async Task Leave_DeletesLeasesAndMovesTheVersion_TheGrainGrantsTheFreedSlots()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", maxConnections: 10);
        await silo.RegisterGatewayAsync("gw-a");
        await silo.RegisterGatewayAsync("gw-b");
        Assert.Equal(10, (await silo.SyncLeasesAsync("gw-a", new LeaseWant(tenantId, 10))).Leases[0].Slots);
        var before = await VersionAsync(silo, tenantId);

        Assert.True(await silo.LeaveAsync("gw-a"));

        Assert.Equal(before + 1, await VersionAsync(silo, tenantId));
        Assert.Equal(10, (await silo.SyncLeasesAsync("gw-b", new LeaseWant(tenantId, 10))).Leases[0].Slots);
    }

    [Fact]
    public async Task Leases_OutOfRangeSlotsInUseHeldOrWaiting_RejectedNamingTheField()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-a");

        foreach (var (wants, field) in new[]
        {
            (new[] { new LeaseWant(tenantId, -1) }, "leases[0].slots"),
            (new[] { new LeaseWant(tenantId, 100_001) }, "leases[0].slots"),
            (new[] { new LeaseWant(tenantId, 1, InUse: -1) }, "leases[0].inUse"),
            (new[] { new LeaseWant(tenantId, 1, Held: -1) }, "leases[0].held"),
            (new[] { new LeaseWant(tenantId, 1, Held: 100_001) }, "leases[0].held"),
            (new[] { new LeaseWant(tenantId, 1, Waiting: 100_001) }, "leases[0].waiting"),
            // Every entry is checked, not only the first; a valid one before it is not granted either.
            (new[] { new LeaseWant(tenantId, 1), new LeaseWant(tenantId, 1, Waiting: -1) }, "leases[1].waiting"),
        })
        {
            var rejected = await Assert.ThrowsAsync<GatewayRequestRejectedException>(() => silo.Link("gw-a").SyncLeasesAsync(new LeaseSyncRequest(wants)));
            var error = Assert.Single(rejected.Errors);
            Assert.Equal((field, FieldErrorCodes.OutOfRange), (error.Field, error.Code));
        }

        Assert.Equal(0L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT count(*) FROM quota_leases"));
    }

    private static Task<long> LeasedAsync(SiloApp silo, Guid tenantId, string gatewayId) =>
        InternalTestFixture.QueryScalarAsync<long>(silo,
            "SELECT COALESCE(sum(slots), 0) FROM quota_leases WHERE tenant_id = @tenantId AND gateway_id = @gatewayId", new { tenantId, gatewayId });

    private static Task<long> VersionAsync(SiloApp silo, Guid tenantId) =>
        InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT quota_version FROM tenant_quotas WHERE tenant_id = @tenantId", new { tenantId });

    /// <summary>
    /// A gateway as the lease manager behaves: it admits only within what it holds, lowers what it holds before it
    /// asks for less, reports held, in use and waiting, and holds exactly the answer afterwards.
    /// </summary>
    private sealed class SimulatedGateway(string id, Random random)
    {
        public string Id { get; } = id;

        public int Held { get; private set; }

        public int InUse { get; private set; }

        public async Task SyncAsync(SiloApp silo, Guid tenantId)
        {
            // Connections close at any time; new ones only take free held slots.
            InUse = InUse > Held ? random.Next(0, InUse + 1) : random.Next(0, Held + 1);
            var want = random.Next(0, 21);
            var waiting = want > Held ? random.Next(0, 4) : 0;
            if (want < Held)
            {
                Held = Math.Min(Held, Math.Max(want, InUse));
                want = Held;
            }

            var answer = await silo.SyncLeasesAsync(Id, new LeaseWant(tenantId, want, InUse, Held, waiting));
            // Connections admitted while the request was on its way, within what was held then.
            InUse = random.Next(InUse, Math.Max(InUse, Held) + 1);
            Held = answer.Leases.Single().Slots;
        }
    }
}
