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

    [Fact]
    public async Task Get_FactsStoredByANewerSilo_WithMembersThisBuildDoesNotKnow_AreListed()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using (var before = new SiloApp(database))
        {
            var tenantId = await InternalTestFixture.InsertTenantRowsAsync(before, "acme");
            await before.RegisterGatewayAsync("gw-1");
            Assert.True(await before.SendEventsAsync("gw-1", new ConnectionEventBatch([InternalTestFixture.Opened("gw-1.1", tenantId).Ws(DateTimeOffset.UtcNow)], [], [])));

            // During a rolling upgrade a silo of the next release stores facts this one has no member for.
            await InternalTestFixture.ExecuteAsync(before,
                """UPDATE connections SET websocket = websocket || '{"extensions": ["permessage-deflate"]}' WHERE id = 'gw-1.1'""");
        }

        // A silo of this release reads them from PostgreSQL.
        await using var silo = new SiloApp(database);
        using var answer = await silo.OperatorClient().GetAsync(new Uri("/v1/tenants/acme/connections/gw-1.1", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        var connection = await answer.Content.ReadFromJsonAsync<ConnectionResponse>(PlatformJson.Options);
        Assert.Equal("chat", connection!.WebSocket!.SubProtocol);
        Assert.Equal(["gw-1.1"], await OpenIdsAsync(silo));
    }

    private static async Task<List<string>> OpenIdsAsync(SiloApp silo) =>
        (await silo.OperatorClient().GetFromJsonAsync<Page<ConnectionResponse>>("/v1/tenants/acme/connections", PlatformJson.Options))!
            .Items.Select(c => c.Id).ToList();
}
