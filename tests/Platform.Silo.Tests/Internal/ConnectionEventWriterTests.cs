using System.Net;
using Platform.Contracts.Connections;
using Platform.Contracts.Internal;

namespace Platform.Silo.Tests.Internal;

public sealed class ConnectionEventWriterTests
{
    [Fact]
    public async Task ConnectionEvents_OpenCountersClose_VisibleInConnectionsApi()
    {
        await using var setup = await ConnectionEventsSetup.StartAsync(["acme"], "gw-1");
        var (silo, tenantId) = (setup.Silo, setup["acme"]);
        // Recent, whole seconds: the silo's reaper deletes closed connections past their retention, whenever it runs.
        var opened = new DateTimeOffset(DateTimeOffset.UtcNow.Ticks / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond, TimeSpan.Zero);
        var first = InternalTestFixture.Opened("gw-1.a", tenantId).Ws(opened);
        var second = InternalTestFixture.Opened("gw-1.b", tenantId).Ws(opened.AddSeconds(1)) with { Protocol = ConnectionProtocols.Tcp, Tls = null, WebSocket = null };

        Assert.True(await silo.SendEventsAsync("gw-1", new ConnectionEventBatch([first, second], [], [])));
        // A retried batch, counters out of order (the older, smaller one last), and a close.
        Assert.True(await silo.SendEventsAsync("gw-1", new ConnectionEventBatch(
            [first],
            [new ConnectionCounters("gw-1.a", 500, 700, 5, 7, opened.AddSeconds(30)), new ConnectionCounters("gw-1.a", 100, 100, 1, 1, opened.AddSeconds(10))],
            [new ConnectionClosed(new ConnectionCounters("gw-1.b", 10, 20, 1, 2, opened.AddSeconds(5)), opened.AddSeconds(6), 1000, "normal")])));
        Assert.True(await silo.SendEventsAsync("gw-1", new ConnectionEventBatch([], [new ConnectionCounters("gw-1.a", 400, 600, 4, 6, opened.AddSeconds(20))], [])));

        var open = await setup.ConnectionsAsync("acme");
        var all = await setup.ConnectionsAsync("acme", "state=all");
        var closed = await setup.ConnectionsAsync("acme", "state=closed");

        var a = Assert.Single(open!.Items);
        Assert.Equal(("gw-1.a", "gw-1", "wss", "192.0.2.10", 50123, 8443), (a.Id, a.GatewayId, a.Protocol, a.RemoteAddress, a.RemotePort, a.LocalPort));
        Assert.Equal((500L, 700L, 5L, 7L), (a.BytesIn, a.BytesOut, a.MessagesIn, a.MessagesOut));
        Assert.Equal(opened.AddSeconds(30), a.LastActivityAt);
        Assert.Equal(opened, a.OpenedAt);
        Assert.Equal(first.Tls, a.Tls);
        Assert.Equal(first.WebSocket, a.WebSocket);
        Assert.Equal(2, all!.Total);
        var b = Assert.Single(closed!.Items);
        Assert.Equal((opened.AddSeconds(6), 1000, "normal", 10L, 20L), (b.ClosedAt!.Value, b.CloseCode!.Value, b.CloseReason!, b.BytesIn, b.BytesOut));
        Assert.Null(b.Tls);
    }

    [Fact]
    public async Task ConnectionEvents_UnknownTenantAndForeignIds_AreSkipped()
    {
        await using var setup = await ConnectionEventsSetup.StartAsync(["acme"], "gw-1", "gw-2");
        var (silo, tenantId) = (setup.Silo, setup["acme"]);
        Assert.True(await silo.SendEventsAsync("gw-2", new ConnectionEventBatch([InternalTestFixture.Opened("gw-2.1", tenantId).Ws()], [], [])));

        Assert.True(await silo.SendEventsAsync("gw-1", new ConnectionEventBatch(
            [InternalTestFixture.Opened("gw-1.1", Guid.NewGuid()).Ws(), InternalTestFixture.Opened("gw-2.9", tenantId).Ws(), InternalTestFixture.Opened("gw-1.2", tenantId).Ws()],
            [],
            [new ConnectionClosed(new ConnectionCounters("gw-2.1", 1, 1, 1, 1, DateTimeOffset.UtcNow), DateTimeOffset.UtcNow, 1000, null)])));
        Assert.Equal("gw-1.2,gw-2.1", await InternalTestFixture.QueryScalarAsync<string>(silo, "SELECT string_agg(id, ',' ORDER BY id) FROM connections"));
        Assert.Equal(0L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT count(*) FROM connections WHERE closed_at IS NOT NULL"));
    }

    [Fact]
    public async Task ConnectionEvents_TwoTenantsInOneBatch_EachListsItsOwnAndLaterEventsFindTheirTenant()
    {
        await using var setup = await ConnectionEventsSetup.StartAsync(["acme", "beta"], "gw-1");
        var (silo, acme, beta) = (setup.Silo, setup["acme"], setup["beta"]);
        var at = DateTimeOffset.UtcNow;

        Assert.True(await silo.SendEventsAsync("gw-1", new ConnectionEventBatch(
            [InternalTestFixture.Opened("gw-1.1", acme).Ws(at), InternalTestFixture.Opened("gw-1.2", beta).Ws(at), InternalTestFixture.Opened("gw-1.3", acme).Ws(at.AddSeconds(1))],
            [new ConnectionCounters("gw-1.1", 5, 6, 1, 1, at.AddSeconds(2))], [])));
        Assert.True(await silo.SendEventsAsync("gw-1", new ConnectionEventBatch(
            [],
            [new ConnectionCounters("gw-1.2", 70, 80, 7, 8, at.AddSeconds(3))],
            [new ConnectionClosed(new ConnectionCounters("gw-1.3", 1, 2, 1, 1, at.AddSeconds(3)), at.AddSeconds(4), 1000, null)])));

        var acmeOpen = await setup.ConnectionsAsync("acme");
        var betaOpen = await setup.ConnectionsAsync("beta");
        Assert.Equal((1L, "gw-1.1", 5L), (acmeOpen!.Total, acmeOpen.Items[0].Id, acmeOpen.Items[0].BytesIn));
        Assert.Equal((1L, "gw-1.2", 70L), (betaOpen!.Total, betaOpen.Items[0].Id, betaOpen.Items[0].BytesIn));
        Assert.Equal(HttpStatusCode.NotFound, (await silo.OperatorClient().GetAsync(new Uri("/v1/tenants/beta/connections/gw-1.1", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task ConnectionEvents_OneTenantsPartFails_BatchAnswersAnErrorAndItsRetryStoresEverythingOnce()
    {
        await using var setup = await ConnectionEventsSetup.StartAsync(["acme", "beta"], "gw-1");
        var (silo, acme, beta) = (setup.Silo, setup["acme"], setup["beta"]);
        // The database refuses beta's rows for now, as a failing write would.
        await InternalTestFixture.ExecuteAsync(silo, $"""
            CREATE FUNCTION refuse_beta() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'refused for the test'; END $$;
            CREATE TRIGGER refuse_beta BEFORE INSERT ON connections FOR EACH ROW
            WHEN (NEW.tenant_id = '{beta}') EXECUTE FUNCTION refuse_beta();
            """);
        var batch = new ConnectionEventBatch(
            [InternalTestFixture.Opened("gw-1.1", acme).Ws(), InternalTestFixture.Opened("gw-1.2", beta).Ws()], [], []);

        // The failure reaches the gateway as the call's exception: the batch was not taken.
        var failed = await Assert.ThrowsAnyAsync<Exception>(() => silo.SendEventsAsync("gw-1", batch));

        Assert.Contains("refused for the test", failed.Message, StringComparison.Ordinal);
        Assert.Equal("gw-1.1", await InternalTestFixture.QueryScalarAsync<string>(silo, "SELECT string_agg(id, ',' ORDER BY id) FROM connections"));
        Assert.Empty((await setup.ConnectionsAsync("beta")).Items);

        // The gateway sends the same batch again once the database takes it.
        await InternalTestFixture.ExecuteAsync(silo, "DROP TRIGGER refuse_beta ON connections");
        Assert.True(await silo.SendEventsAsync("gw-1", batch));

        Assert.Equal("gw-1.1,gw-1.2", await InternalTestFixture.QueryScalarAsync<string>(silo, "SELECT string_agg(id, ',' ORDER BY id) FROM connections"));
        Assert.Equal(["gw-1.1"], (await setup.ConnectionsAsync("acme")).Items.Select(c => c.Id));
        Assert.Equal(["gw-1.2"], (await setup.ConnectionsAsync("beta")).Items.Select(c => c.Id));
    }

    [Fact]
    public async Task ConnectionEvents_UnknownGateway_AnswersFalseAndStoresNothing()
    {
        await using var setup = await ConnectionEventsSetup.StartAsync(["acme"]);
        var (silo, tenantId) = (setup.Silo, setup["acme"]);

        var taken = await silo.SendEventsAsync("gw-9", new ConnectionEventBatch([InternalTestFixture.Opened("gw-9.1", tenantId).Ws()], [], []));

        Assert.False(taken);
        Assert.Equal(0L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT count(*) FROM connections"));
    }

    [Fact]
    public async Task ConnectionEvents_OneConnectionOpenedTwiceInABatch_StoredOnce()
    {
        await using var setup = await ConnectionEventsSetup.StartAsync(["acme"], "gw-1");
        var (silo, tenantId) = (setup.Silo, setup["acme"]);
        // A gateway that registers again announces its live connections beside the open events it still had queued
        // from while the silo was away: one batch then names the same connection twice.
        var queued = InternalTestFixture.Opened("gw-1.a", tenantId).Ws();
        var announced = InternalTestFixture.Opened("gw-1.b", tenantId).Ws();

        Assert.True(await silo.SendEventsAsync("gw-1", new ConnectionEventBatch([queued, announced, queued], [], [])));
        Assert.Equal("gw-1.a,gw-1.b", await InternalTestFixture.QueryScalarAsync<string>(silo, "SELECT string_agg(id, ',' ORDER BY id) FROM connections WHERE closed_at IS NULL"));
    }
}
