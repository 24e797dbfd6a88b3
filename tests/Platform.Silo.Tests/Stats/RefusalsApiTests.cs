using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Platform.Cluster;
using Platform.Contracts;
using Platform.Contracts.Internal;
using Platform.Contracts.Problems;
using Platform.Contracts.Stats;
using Platform.Silo.Gateways.Nodes;
using Platform.Silo.Internal;
using Platform.Silo.Tests.Internal;
using Platform.Silo.Tests.Tenants;
using Platform.Testing;

namespace Platform.Silo.Tests.Stats;

public sealed class RefusalsApiTests
{
    private static readonly DateTimeOffset Start = new(2026, 3, 2, 10, 30, 20, TimeSpan.Zero);

    [Fact]
    public async Task Heartbeat_WithRefusals_OperatorSeesAllTenantKeySeesOnlyItsOwn()
    {
        await using var database = await TestDatabase.CreateAsync();
        var time = new ManualTimeProvider(Start);
        await using var silo = new SiloApp(database) { Time = time };
        var acme = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await InternalTestFixture.InsertTenantRowsAsync(silo, "globex");
        await silo.RegisterGatewayAsync("gw-1");
        var minute = Minute(Start);
        Assert.NotNull(await HeartbeatAsync(silo, "gw-1", new RefusalBatch(1,
        [
            new(minute, "acme", "ws", "max_connections", 3),
            new(minute.AddMinutes(-1), "acme", "ws", "max_connections", 2),
            new(minute, "globex", "wss", "not_allowed", 4),
            new(minute, "", "", "unknown_tenant", 1),
            new(minute, "gone", "ws", "suspended", 5),
        ])));

        var all = await silo.OperatorClient().GetFromJsonAsync<RefusalReport>("/v1/refusals", PlatformJson.Options);
        Assert.Equal(15, all!.Total);
        Assert.Equal(minute.AddHours(-1), all.Since);
        Assert.Equal(
            [("max_connections", 5L), ("suspended", 5L), ("not_allowed", 4L), ("unknown_tenant", 1L)],
            all.ByReason.Select(r => (r.Reason, r.Count)));
        Assert.Equal(5, all.Buckets.Total);
        var newest = all.Buckets.Items[0];
        Assert.Equal(minute, newest.Minute);
        // A slug no tenant has any more counts as "no tenant"; an empty protocol is reported as none.
        Assert.Contains(all.Buckets.Items, b => b is { Tenant: null, Reason: "unknown_tenant", Protocol: null, Count: 1 });
        Assert.Contains(all.Buckets.Items, b => b is { Tenant: null, Reason: "suspended", Protocol: "ws", Count: 5 });
        Assert.Contains(all.Buckets.Items, b => b is { Tenant: "globex", Reason: "not_allowed", Protocol: "wss", Count: 4 });

        var acmeKey = await InternalTestFixture.InsertTenantKeyAsync(silo, acme);
        var own = await silo.ClientWith(acmeKey).GetFromJsonAsync<RefusalReport>("/v1/tenants/acme/refusals", PlatformJson.Options);
        Assert.Equal(5, own!.Total);
        Assert.All(own.Buckets.Items, b => Assert.Equal("acme", b.Tenant));
        Assert.Equal([minute, minute.AddMinutes(-1)], own.Buckets.Items.Select(b => b.Minute));

        await TenantApiClient.AssertProblemAsync(
            await silo.ClientWith(acmeKey).GetAsync(new Uri("/v1/tenants/globex/refusals", UriKind.Relative)), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        Assert.Equal(HttpStatusCode.Forbidden, (await silo.ClientWith(acmeKey).GetAsync(new Uri("/v1/refusals", UriKind.Relative))).StatusCode);
        var globexView = await silo.OperatorClient().GetFromJsonAsync<RefusalReport>("/v1/tenants/globex/refusals", PlatformJson.Options);
        Assert.Equal(4, globexView!.Total);
    }

    [Fact]
    public async Task Heartbeat_SameBatchSentTwice_CountedOnceAndMergedWithLaterMinutes()
    {
        await using var database = await TestDatabase.CreateAsync();
        var time = new ManualTimeProvider(Start);
        await using var silo = new SiloApp(database) { Time = time };
        await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-1");
        var minute = Minute(Start);
        var first = new RefusalBatch(1, [new(minute, "acme", "ws", "rate_limited", 2)]);
        Assert.NotNull(await HeartbeatAsync(silo, "gw-1", first));
        // The answer was lost, so the gateway sends the same batch again: it must not count twice.
        Assert.NotNull(await HeartbeatAsync(silo, "gw-1", first));
        Assert.NotNull(await HeartbeatAsync(silo, "gw-1", new RefusalBatch(2, [new(minute, "acme", "ws", "rate_limited", 3)])));
        Assert.Equal(5, await TotalAsync(silo));

        // A new registration (a restarted process) numbers its batches from 1 again.
        await silo.RegisterGatewayAsync("gw-1");
        Assert.NotNull(await HeartbeatAsync(silo, "gw-1", new RefusalBatch(1, [new(minute, "acme", "ws", "rate_limited", 1)])));
        Assert.Equal(6, await TotalAsync(silo));
        Assert.Equal(1L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT count(*) FROM refusal_counts"));
    }

    [Fact]
    public async Task Heartbeat_RefusalsPassedOnByANewerSilo_WithMembersThisBuildDoesNotKnow_AreCounted()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database) { Time = new ManualTimeProvider(Start) };
        await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-1");
        // The silo a gateway heartbeats to hands the batch to the gateway's grain as JSON, which may live on a silo of
        // the release before during a rolling upgrade.
        var batch = JsonSerializer.SerializeToNode(new RefusalBatch(1, [new(Minute(Start), "acme", "ws", "rate_limited", 2)]), PlatformJson.Options)!;
        batch["gatewayVersion"] = "next";
        batch["counts"]![0]!["listener"] = "shared";

        var answer = await silo.Services.GetRequiredService<IGrainFactory>().GetGrain<IGatewayGrain>("gw-1")
            .HeartbeatAsync(new GatewayHeartbeat(0, 0, Encoding.UTF8.GetBytes(batch.ToJsonString()), 1, silo.GatewayOf("gw-1").Reference));

        Assert.NotNull(answer);
        Assert.Equal(2, await TotalAsync(silo));
    }

    [Fact]
    public async Task Heartbeat_UnknownGateway_RefusalsNotStored()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database) { Time = new ManualTimeProvider(Start) };
        await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        Assert.Null(await HeartbeatAsync(silo, "gw-never", new RefusalBatch(1, [new(Minute(Start), "acme", "ws", "blocked", 1)])));
        Assert.Equal(0, await TotalAsync(silo));
    }

    [Fact]
    public async Task Heartbeat_InvalidRefusalBatch_RejectedNamingTheField()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database) { Time = new ManualTimeProvider(Start) };
        await silo.RegisterGatewayAsync("gw-1");
        await AssertRejectedAsync("refusals.counts[0].count", () => HeartbeatAsync(silo, "gw-1", new RefusalBatch(1, [new(Minute(Start), "acme", "ws", "blocked", 0)])));
        await AssertRejectedAsync("refusals.counts[0].reason", () => HeartbeatAsync(silo, "gw-1", new RefusalBatch(1, [new(Minute(Start), "acme", "ws", "Not Snake", 1)])));
        // Well formed but not one of the reasons: the counts speak only the vocabulary the gateways' answers use.
        await AssertRejectedAsync("refusals.counts[0].reason", () => HeartbeatAsync(silo, "gw-1", new RefusalBatch(1, [new(Minute(Start), "acme", "ws", "client_blocked", 1)])));
        await AssertRejectedAsync("refusals.sequence", () => HeartbeatAsync(silo, "gw-1", new RefusalBatch(0, [])));
    }

    [Theory]
    [InlineData("yesterday", FieldErrorCodes.InvalidFormat)]
    [InlineData("2026-13-40T00:00:00Z", FieldErrorCodes.InvalidFormat)]
    [InlineData("2099-01-01T00:00:00Z", FieldErrorCodes.OutOfRange)]
    public async Task List_BadSince_ProblemDetailsNameSince(string since, string fieldCode)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database) { Time = new ManualTimeProvider(Start) };
        await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        foreach (var path in new[] { "/v1/refusals", "/v1/tenants/acme/refusals" })
        {
            var response = await silo.OperatorClient().GetAsync(new Uri($"{path}?since={Uri.EscapeDataString(since)}", UriKind.Relative));
            await TenantApiClient.AssertProblemAsync(response, HttpStatusCode.BadRequest, ErrorCodes.ValidationFailed, "since");
            Assert.Contains(fieldCode, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task List_Since_CountsFromThatMinuteOnly()
    {
        await using var database = await TestDatabase.CreateAsync();
        var time = new ManualTimeProvider(Start);
        await using var silo = new SiloApp(database) { Time = time };
        await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-1");
        var minute = Minute(Start);
        Assert.NotNull(await HeartbeatAsync(silo, "gw-1", new RefusalBatch(1,
        [
            new(minute.AddHours(-3), "acme", "ws", "blocked", 7),
            new(minute.AddMinutes(-10), "acme", "ws", "blocked", 1),
        ])));

        Assert.Equal(1, await TotalAsync(silo));
        var since = Uri.EscapeDataString(minute.AddHours(-4).AddSeconds(30).ToString("O"));
        var report = await silo.OperatorClient().GetFromJsonAsync<RefusalReport>($"/v1/refusals?since={since}&limit=1", PlatformJson.Options);
        Assert.Equal(8, report!.Total);
        Assert.Equal(minute.AddHours(-4), report.Since);
        Assert.Equal(2, report.Buckets.Total);
        Assert.Equal(1, Assert.Single(report.Buckets.Items).Count);
    }

    [Fact]
    public async Task Reaper_BucketsPastRetention_ArePruned()
    {
        await using var database = await TestDatabase.CreateAsync();
        var time = new ManualTimeProvider(Start);
        await using var silo = new SiloApp(database, new Dictionary<string, string?> { ["Platform:RefusalRetentionDays"] = "7" }) { Time = time };
        await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-1");
        var minute = Minute(Start);
        Assert.NotNull(await HeartbeatAsync(silo, "gw-1", new RefusalBatch(1,
        [
            new(minute.AddDays(-8), "acme", "ws", "blocked", 1),
            new(minute.AddDays(-6), "acme", "ws", "blocked", 2),
        ])));
        Assert.Equal(2L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT count(*) FROM refusal_counts"));

        await silo.Services.GetRequiredService<GatewayReaper>().ReapOnceAsync(CancellationToken.None);

        Assert.Equal(2L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT sum(count)::bigint FROM refusal_counts"));
    }

    internal static Task<HeartbeatResponse?> HeartbeatAsync(SiloApp silo, string nodeId, RefusalBatch batch) =>
        silo.HeartbeatAsync(nodeId, refusals: batch);

    private static async Task AssertRejectedAsync(string field, Func<Task> heartbeat)
    {
        var rejected = await Assert.ThrowsAsync<GatewayRequestRejectedException>(heartbeat);
        Assert.Contains(field, rejected.Errors.Select(e => e.Field));
    }

    private static async Task<long> TotalAsync(SiloApp silo) =>
        (await silo.OperatorClient().GetFromJsonAsync<RefusalReport>("/v1/refusals", PlatformJson.Options))!.Total;

    private static DateTimeOffset Minute(DateTimeOffset at) => new(at.Ticks - (at.Ticks % TimeSpan.TicksPerMinute), TimeSpan.Zero);
}
