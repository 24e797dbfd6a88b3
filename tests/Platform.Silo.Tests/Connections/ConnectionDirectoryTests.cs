using System.Net;
using System.Net.Http.Json;
using Platform.Contracts;
using Platform.Contracts.Connections;
using Platform.Contracts.Internal;
using Platform.Contracts.Tenants;
using Platform.Silo.Internal;
using Platform.Silo.Tests.Internal;
using Platform.Testing;

namespace Platform.Silo.Tests.Connections;

/// <summary>The directory's open connections, answered by the tenant's grain, follow every bulk close of a gateway's connections.</summary>
public sealed class ConnectionDirectoryTests
{
    [Fact]
    public async Task List_GatewayLeftThenAnotherRestarted_TheirConnectionsLeaveTheOpenList()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database) { Time = new ManualTimeProvider(DateTimeOffset.UtcNow) };
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-1");
        await silo.RegisterGatewayAsync("gw-2");
        var at = silo.Time.GetUtcNow();
        Assert.True(await silo.SendEventsAsync("gw-1", new ConnectionEventBatch([InternalTestFixture.Opened("gw-1.1", tenantId).Ws(at)], [], [])));
        Assert.True(await silo.SendEventsAsync("gw-2", new ConnectionEventBatch([InternalTestFixture.Opened("gw-2.1", tenantId).Ws(at.AddSeconds(1))], [], [])));
        Assert.Equal(["gw-1.1", "gw-2.1"], await OpenIdsAsync(silo));

        Assert.True(await silo.LeaveAsync("gw-1"));

        Assert.Equal(["gw-2.1"], await OpenIdsAsync(silo));
        var left = await silo.OperatorClient().GetFromJsonAsync<ConnectionResponse>("/v1/tenants/acme/connections/gw-1.1", PlatformJson.Options);
        Assert.Equal((1001, GatewayRegistry.StoppedReason), (left!.CloseCode, left.CloseReason));

        await silo.RegisterGatewayAsync("gw-2");

        Assert.Empty(await OpenIdsAsync(silo));
        // The same process registered again after the silo forgot it: it announces what is still open, which reopens.
        Assert.True(await silo.SendEventsAsync("gw-2", new ConnectionEventBatch([InternalTestFixture.Opened("gw-2.1", tenantId).Ws(at.AddSeconds(1))], [], [])));
        Assert.Equal(["gw-2.1"], await OpenIdsAsync(silo));
        var reopened = await silo.OperatorClient().GetFromJsonAsync<ConnectionResponse>("/v1/tenants/acme/connections/gw-2.1", PlatformJson.Options);
        Assert.Null(reopened!.ClosedAt);
    }

    private static async Task<List<string>> OpenIdsAsync(SiloApp silo) =>
        (await silo.OperatorClient().GetFromJsonAsync<Page<ConnectionResponse>>("/v1/tenants/acme/connections", PlatformJson.Options))!
            .Items.Select(c => c.Id).ToList();
}
