using System.Net;
using System.Net.Http.Json;
using Platform.Contracts;
using Platform.Contracts.Internal;
using Platform.Testing;

namespace Platform.Silo.Tests.Internal;

public sealed class LeaseStoreTests
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
    public async Task Leases_UnknownOrDeadGateway_Answers404GatewayUnknown()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-dead");
        await InternalTestFixture.ExecuteAsync(silo, "UPDATE gateway_nodes SET status = 'dead', dead_at = now() WHERE id = 'gw-dead'");

        foreach (var node in new[] { "gw-dead", "gw-never" })
        {
            var response = await silo.GatewayClient().PostAsJsonAsync(InternalRoutes.Path(InternalRoutes.Leases, node),
                new LeaseSyncRequest([new LeaseWant(tenantId, 5)]), PlatformJson.Options);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Contains("gateway_unknown", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Equal(0L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT count(*) FROM quota_leases"));
    }
}
