using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts.Events;
using Platform.Contracts.Internal;
using Platform.Silo.Internal;
using Platform.Silo.Tests.Internal;
using Platform.Testing;

namespace Platform.Silo.Tests.Events;

public sealed class EventOutboxTests
{
    [Fact]
    public async Task AppendAsync_OpenThenClose_RecordsConnectedThenDisconnectedWithGapFreeSequences()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = EventTestSupport.Silo(database);
        var tenantId = await EventTestSupport.TenantAsync(silo, "acme", url: null);
        await silo.RegisterGatewayAsync("gw-1");

        await EventTestSupport.OpenAsync(silo, "gw-1", tenantId, 1, 2, 3);
        await EventTestSupport.CloseAsync(silo, "gw-1", 2);

        var page = await EventTestSupport.EventsAsync(silo.OperatorClient(), "acme");
        Assert.Equal([1L, 2, 3, 4], page.Items.Select(i => i.Event.Sequence));
        Assert.Equal(4, page.LastSequence);
        Assert.Equal(
            ["connected gw-1.1", "connected gw-1.2", "connected gw-1.3", "disconnected gw-1.2"],
            page.Items.Select(i => $"{i.Event.Type} {i.Event.ConnectionId}"));
        var closed = page.Items[3].Event;
        Assert.Equal((1000, "bye", "wss", "192.0.2.10", 50123), (closed.CloseCode, closed.CloseReason, closed.Protocol, closed.RemoteAddress, closed.RemotePort));
        Assert.Equal("acme", closed.Tenant);
        Assert.Equal(4, page.Items.Select(i => i.Event.Id).Distinct().Count());
        Assert.All(page.Items, i => Assert.Equal(EventDeliveryStates.Pending, i.Delivery.State));
    }

    [Fact]
    public async Task AppendAsync_BatchSentAgain_RecordsEachChangeOnce()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = EventTestSupport.Silo(database);
        var tenantId = await EventTestSupport.TenantAsync(silo, "acme", url: null);
        await silo.RegisterGatewayAsync("gw-1");

        // A gateway retries a batch whose answer it lost: the rows are unchanged, so no event is recorded again.
        await EventTestSupport.OpenAsync(silo, "gw-1", tenantId, 1);
        await EventTestSupport.OpenAsync(silo, "gw-1", tenantId, 1);
        await EventTestSupport.CloseAsync(silo, "gw-1", 1);
        await EventTestSupport.CloseAsync(silo, "gw-1", 1);

        var page = await EventTestSupport.EventsAsync(silo.OperatorClient(), "acme");
        Assert.Equal(["connected", "disconnected"], page.Items.Select(i => i.Event.Type));
    }

    [Fact]
    public async Task AppendAsync_GatewaysWritingAtOnce_NumberEveryEventOnceWithoutGaps()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = EventTestSupport.Silo(database);
        var tenantId = await EventTestSupport.TenantAsync(silo, "acme", url: null);
        var gateways = Enumerable.Range(1, 4).Select(i => $"gw-{i}").ToList();
        foreach (var gateway in gateways)
        {
            await silo.RegisterGatewayAsync(gateway);
        }

        await Task.WhenAll(gateways.Select(async gateway =>
        {
            for (var n = 1; n <= 10; n++)
            {
                await EventTestSupport.OpenAsync(silo, gateway, tenantId, n);
                await EventTestSupport.CloseAsync(silo, gateway, n);
            }
        }));

        var page = await EventTestSupport.EventsAsync(silo.OperatorClient(), "acme");
        Assert.Equal(Enumerable.Range(1, 80).Select(i => (long)i), page.Items.Select(i => i.Event.Sequence));
        // Per connection: connected before disconnected.
        foreach (var connection in page.Items.GroupBy(i => i.Event.ConnectionId))
        {
            Assert.Equal(["connected", "disconnected"], connection.Select(i => i.Event.Type));
        }
    }

    [Fact]
    public async Task AppendAsync_GatewayReaped_RecordsDisconnectedForEachOfItsConnections()
    {
        await using var database = await TestDatabase.CreateAsync();
        var time = new ManualTimeProvider(DateTimeOffset.UtcNow);
        await using var silo = new SiloApp(database) { Time = time };
        var tenantId = await EventTestSupport.TenantAsync(silo, "acme", url: null);
        var otherId = await EventTestSupport.TenantAsync(silo, "other", url: null);
        await silo.RegisterGatewayAsync("gw-dead");
        await silo.RegisterGatewayAsync("gw-alive");
        var now = time.GetUtcNow();
        Assert.True(await silo.SendEventsAsync("gw-dead", new ConnectionEventBatch(
            [InternalTestFixture.Opened("gw-dead.1", tenantId).Ws(now), InternalTestFixture.Opened("gw-dead.2", tenantId).Ws(now), InternalTestFixture.Opened("gw-dead.3", otherId).Ws(now)], [], [])));
        Assert.True(await silo.SendEventsAsync("gw-alive", new ConnectionEventBatch([InternalTestFixture.Opened("gw-alive.1", tenantId).Ws(now)], [], [])));

        time.Advance(TimeSpan.FromSeconds(10));
        Assert.NotNull(await silo.HeartbeatAsync("gw-alive"));
        time.Advance(TimeSpan.FromSeconds(10));
        // The silo's own reaper loop runs on the same clock and may have declared the node dead first; either way the
        // node is reaped once, and the events are what counts.
        await silo.Services.GetRequiredService<GatewayReaper>().ReapOnceAsync(CancellationToken.None);

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        var acme = await EventTestSupport.EventsAsync(silo.OperatorClient(), "acme");
        while (acme.Items.Count(i => i.Event.Type == LifecycleEventTypes.Disconnected) < 2 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
            acme = await EventTestSupport.EventsAsync(silo.OperatorClient(), "acme");
        }

        var disconnected = acme.Items.Where(i => i.Event.Type == LifecycleEventTypes.Disconnected).Select(i => i.Event).ToList();
        Assert.Equal(["gw-dead.1", "gw-dead.2"], disconnected.Select(e => e.ConnectionId).Order(StringComparer.Ordinal));
        Assert.All(disconnected, e => Assert.Equal(GatewayReaper.LostReason, e.CloseReason));
        Assert.Equal([1L, 2, 3, 4, 5], acme.Items.Select(i => i.Event.Sequence));
        var other = await EventTestSupport.EventsAsync(silo.OperatorClient(), "other");
        Assert.Equal(["connected gw-dead.3", "disconnected gw-dead.3"], other.Items.Select(i => $"{i.Event.Type} {i.Event.ConnectionId}"));
    }
}
