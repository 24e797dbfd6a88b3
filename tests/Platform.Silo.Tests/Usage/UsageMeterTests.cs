using System.Globalization;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts;
using Platform.Contracts.Internal;
using Platform.Contracts.Usage;
using Platform.Silo.Internal;
using Platform.Silo.Tests.Internal;
using Platform.Testing;

namespace Platform.Silo.Tests.Usage;

/// <summary>Usage metered from gateways' connection events, over a real PostgreSQL, read through the REST API.</summary>
public sealed class UsageMeterTests
{
    [Fact]
    public async Task Settle_RetriedDuplicatedAndLateBatches_CountEveryByteOnce()
    {
        await using var database = await TestDatabase.CreateAsync();
        var time = new ManualTimeProvider(WholeSecond(DateTimeOffset.UtcNow));
        await using var silo = new SiloApp(database) { Time = time };
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-1");
        var at = time.GetUtcNow();
        var a = InternalTestFixture.Opened("gw-1.a", tenantId).Ws(at);
        var b = InternalTestFixture.Opened("gw-1.b", tenantId).Ws(at);
        var opened = new ConnectionEventBatch([a, b], [], []);
        var counted = new ConnectionEventBatch([], [new ConnectionCounters("gw-1.a", 100, 200, 1, 2, at)], []);
        var closed = new ConnectionEventBatch([], [], [new ConnectionClosed(new ConnectionCounters("gw-1.a", 150, 260, 3, 4, at), at, 1000, null)]);

        // Each batch sent twice, as a gateway does when it did not learn that the first call was taken; an open event
        // repeated after the close; a late, smaller counter snapshot.
        foreach (var batch in new[] { opened, opened, counted, counted, closed, closed, opened })
        {
            Assert.True(await silo.SendEventsAsync("gw-1", batch));
        }

        Assert.True(await silo.SendEventsAsync("gw-1", new ConnectionEventBatch(
            [], [new ConnectionCounters("gw-1.b", 7, 9, 1, 1, at), new ConnectionCounters("gw-1.a", 10, 10, 1, 1, at)], [])));

        var usage = await ReadAsync(silo.OperatorClient(), "acme", at);
        Assert.Equal((2L, 2L, 157L, 269L, 4L, 5L), (usage.Totals.ConnectionsOpened, usage.Totals.PeakConcurrent,
            usage.Totals.BytesIn, usage.Totals.BytesOut, usage.Totals.MessagesIn, usage.Totals.MessagesOut));
    }

    [Fact]
    public async Task Settle_ConnectionAcrossAnHour_SplitsItsSecondsAndAccruesWhileOpen()
    {
        await using var database = await TestDatabase.CreateAsync();
        var hour = new DateTimeOffset(DateTimeOffset.UtcNow.Year, DateTimeOffset.UtcNow.Month, DateTimeOffset.UtcNow.Day, DateTimeOffset.UtcNow.Hour, 0, 0, TimeSpan.Zero)
            .AddHours(-3);
        var time = new ManualTimeProvider(hour.AddMinutes(59).AddSeconds(50));
        await using var silo = new SiloApp(database) { Time = time };
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-1");
        Assert.True(await silo.SendEventsAsync("gw-1", new ConnectionEventBatch(
            [InternalTestFixture.Opened("gw-1.a", tenantId).Ws(hour.AddMinutes(59).AddSeconds(30))], [], [])));

        // Open: accrued up to the read, in the hour it is in.
        var open = await ReadAsync(silo.OperatorClient(), "acme", hour);
        Assert.Equal([(hour, 20m, 1L, 1L)], open.Buckets.Select(Seconds));

        // Into the next hour, still open: split at the boundary, the new hour's peak is the open count.
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.NotNull(await silo.HeartbeatAsync("gw-1"));
        time.Advance(TimeSpan.FromSeconds(10));
        var across = await ReadAsync(silo.OperatorClient(), "acme", hour);
        Assert.Equal([(hour, 30m, 1L, 1L), (hour.AddHours(1), 10m, 1L, 0L)], across.Buckets.Select(Seconds));

        // Closed 40 s into the next hour: stored split the same way, and nothing more accrues.
        Assert.True(await silo.SendEventsAsync("gw-1", new ConnectionEventBatch(
            [], [], [new ConnectionClosed(new ConnectionCounters("gw-1.a", 1, 1, 1, 1, hour.AddHours(1).AddSeconds(40)), hour.AddHours(1).AddSeconds(40), 1000, null)])));
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.NotNull(await silo.HeartbeatAsync("gw-1"));
        var closed = await ReadAsync(silo.OperatorClient(), "acme", hour);
        Assert.Equal([(hour, 30m, 1L, 1L), (hour.AddHours(1), 40m, 1L, 0L)], closed.Buckets.Select(Seconds));
        var day = await ReadAsync(silo.OperatorClient(), "acme", hour, UsageGranularities.Day);
        Assert.Equal((70m, 1L), (day.Totals.ConnectionSeconds, day.Totals.PeakConcurrent));
    }

    [Fact]
    public async Task Settle_GatewayDeclaredDead_ItsConnectionsCountUpToTheReaperAndLoseNoReportedByte()
    {
        await using var database = await TestDatabase.CreateAsync();
        var time = new ManualTimeProvider(WholeSecond(DateTimeOffset.UtcNow));
        await using var silo = new SiloApp(database) { Time = time };
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-silent");
        var at = time.GetUtcNow();
        Assert.True(await silo.SendEventsAsync("gw-silent", new ConnectionEventBatch(
            [InternalTestFixture.Opened("gw-silent.1", tenantId).Ws(at), InternalTestFixture.Opened("gw-silent.2", tenantId).Ws(at)],
            [new ConnectionCounters("gw-silent.1", 1000, 2000, 10, 20, at), new ConnectionCounters("gw-silent.2", 1, 2, 1, 2, at)], [])));

        // The gateway dies without a close: past the heartbeat timeout, the reaper closes its connections.
        time.Advance(TimeSpan.FromSeconds(20));
        var reapedAt = time.GetUtcNow();
        // The silo's own reaper may take the tick first; either way the node is dead once this pass returns.
        await silo.Services.GetRequiredService<GatewayReaper>().ReapOnceAsync(CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(5));

        var usage = await ReadAsync(silo.OperatorClient(), "acme", at);
        var seconds = (decimal)(reapedAt - at).TotalSeconds;
        Assert.Equal((2 * seconds, 2L, 1001L, 2002L, 11L, 22L), (usage.Totals.ConnectionSeconds, usage.Totals.PeakConcurrent,
            usage.Totals.BytesIn, usage.Totals.BytesOut, usage.Totals.MessagesIn, usage.Totals.MessagesOut));
        Assert.Equal(0L, await InternalTestFixture.QueryScalarAsync<long>(silo,
            "SELECT COALESCE(sum(open_count), 0)::bigint FROM usage_open_counts WHERE tenant_id = @tenantId", new { tenantId }));

        // The gateway was only cut off: it registers again and announces both connections, then closes one with
        // counters that include what was already counted.
        await silo.RegisterGatewayAsync("gw-silent");
        Assert.True(await silo.SendEventsAsync("gw-silent", new ConnectionEventBatch(
            [InternalTestFixture.Opened("gw-silent.1", tenantId).Ws(at), InternalTestFixture.Opened("gw-silent.2", tenantId).Ws(at)], [], [])));
        Assert.Equal(2L, await InternalTestFixture.QueryScalarAsync<long>(silo,
            "SELECT COALESCE(sum(open_count), 0)::bigint FROM usage_open_counts WHERE tenant_id = @tenantId", new { tenantId }));
        var closedAt = reapedAt.AddSeconds(60);
        Assert.True(await silo.SendEventsAsync("gw-silent", new ConnectionEventBatch(
            [], [], [new ConnectionClosed(new ConnectionCounters("gw-silent.1", 1500, 2500, 15, 25, closedAt), closedAt, 1000, null)])));

        var back = await ReadAsync(silo.OperatorClient(), "acme", at);
        var now = time.GetUtcNow();
        Assert.Equal(((decimal)(closedAt - at).TotalSeconds + (decimal)(now - at).TotalSeconds, 2L, 1501L, 2502L, 16L, 27L, 2L),
            (back.Totals.ConnectionSeconds, back.Totals.ConnectionsOpened, back.Totals.BytesIn, back.Totals.BytesOut,
             back.Totals.MessagesIn, back.Totals.MessagesOut, back.Totals.PeakConcurrent));
    }

    private static (DateTimeOffset, decimal, long, long) Seconds(UsageBucket b) =>
        (b.Start, b.Usage.ConnectionSeconds, b.Usage.PeakConcurrent, b.Usage.ConnectionsOpened);

    private static DateTimeOffset WholeSecond(DateTimeOffset t) => new(t.Ticks / TimeSpan.TicksPerSecond * TimeSpan.TicksPerSecond, TimeSpan.Zero);

    internal static async Task<TenantUsageResponse> ReadAsync(HttpClient client, string slug, DateTimeOffset from, string granularity = UsageGranularities.Hour)
    {
        var url = $"/v1/tenants/{slug}/usage?granularity={granularity}&from={Uri.EscapeDataString(from.AddHours(-1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture))}";
        return (await client.GetFromJsonAsync<TenantUsageResponse>(new Uri(url, UriKind.Relative), PlatformJson.Options))!;
    }
}
