using System.Net;
using System.Net.Http.Json;
using Platform.Contracts;
using Platform.Contracts.Stats;
using Platform.Silo.Tests.Internal;
using Platform.Testing;

namespace Platform.Silo.Tests.Stats;

public sealed class StatsApiTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 2, 10, 30, 20, TimeSpan.Zero);

    [Fact]
    public async Task Get_ConnectionsOfManyTenants_TotalsAndLastHourFromTheDatabase()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database) { Time = new ManualTimeProvider(Now) };
        var minute = new DateTimeOffset(Now.Ticks - (Now.Ticks % TimeSpan.TicksPerMinute), TimeSpan.Zero);
        // More tenants than a portal page would read, each with an open connection.
        var tenants = new List<Guid>();
        for (var i = 0; i < 205; i++)
        {
            tenants.Add(await InternalTestFixture.InsertTenantRowsAsync(silo, $"t{i:D3}"));
        }

        for (var i = 0; i < tenants.Count; i++)
        {
            await InsertConnectionAsync(silo, $"gw-1.{i}", tenants[i], i % 3 == 0 ? "wss" : "ws", minute.AddMinutes(-55), closedAt: null);
        }

        // One connection that lived from 50 to 30 minutes ago, one opened this minute, one closed before the window.
        await InsertConnectionAsync(silo, "gw-1.tcp", tenants[0], "tcp", minute.AddMinutes(-50).AddSeconds(5), minute.AddMinutes(-30).AddSeconds(5));
        await InsertConnectionAsync(silo, "gw-1.new", tenants[1], "tls", minute.AddSeconds(1), closedAt: null);
        await InsertConnectionAsync(silo, "gw-1.old", tenants[2], "ws", minute.AddMinutes(-90), minute.AddMinutes(-70));
        await InternalTestFixture.ExecuteAsync(silo,
            """
            INSERT INTO certificates (id, tenant_id, subject, issuer, thumbprint, host_names, not_before, not_after, key_algorithm, chain_pem, private_key_enc, created_at)
            VALUES (gen_random_uuid(), @soon, 'CN=soon', 'CN=ca', 'aa', ARRAY['soon.example'], @now - interval '300 days', @now + interval '10 days', 'ECDSA', 'pem', '\x00', @now),
                   (gen_random_uuid(), @later, 'CN=later', 'CN=ca', 'bb', ARRAY['later.example'], @now - interval '300 days', @now + interval '90 days', 'ECDSA', 'pem', '\x00', @now)
            """,
            new { soon = tenants[7], later = tenants[8], now = Now });

        var stats = await silo.OperatorClient().GetFromJsonAsync<PlatformStatsResponse>("/v1/stats", PlatformJson.Options);

        Assert.Equal(205, stats!.Tenants);
        Assert.Equal(206, stats.OpenConnections);
        Assert.Equal(new Dictionary<string, long> { ["tls"] = 1, ["ws"] = 136, ["wss"] = 69 }, stats.OpenPerProtocol);
        Assert.Equal(61, stats.LastHour.Count);
        Assert.Equal(minute.AddMinutes(-60), stats.LastHour[0].Minute);
        Assert.Equal(minute, stats.LastHour[^1].Minute);
        Assert.Equal(206, stats.LastHour[^1].Open);
        Assert.Equal(1, stats.LastHour[^1].Opened);
        Assert.Equal(0, stats.LastHour.Single(p => p.Minute == minute.AddMinutes(-58)).Open);
        Assert.Equal(205, stats.LastHour.Single(p => p.Minute == minute.AddMinutes(-55)).Open);
        Assert.Equal(205, stats.LastHour.Single(p => p.Minute == minute.AddMinutes(-55)).Opened);
        Assert.Equal(206, stats.LastHour.Single(p => p.Minute == minute.AddMinutes(-40)).Open);
        Assert.Equal(1, stats.LastHour.Single(p => p.Minute == minute.AddMinutes(-50)).Opened);
        Assert.Equal(205, stats.LastHour.Single(p => p.Minute == minute.AddMinutes(-30)).Open);
        var expiring = Assert.Single(stats.ExpiringCertificates);
        Assert.Equal(("t007", "CN=soon"), (expiring.Tenant, expiring.Subject));
        Assert.Equal(["soon.example"], expiring.HostNames);
    }

    [Fact]
    public async Task Get_TenantKey_Forbidden()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenant = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        var key = await InternalTestFixture.InsertTenantKeyAsync(silo, tenant);
        Assert.Equal(HttpStatusCode.Forbidden, (await silo.ClientWith(key).GetAsync(new Uri("/v1/stats", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await silo.AnonymousClient().GetAsync(new Uri("/v1/stats", UriKind.Relative))).StatusCode);
    }

    private static Task InsertConnectionAsync(SiloApp silo, string id, Guid tenantId, string protocol, DateTimeOffset openedAt, DateTimeOffset? closedAt) =>
        InternalTestFixture.ExecuteAsync(silo,
            """
            INSERT INTO connections (id, tenant_id, gateway_id, protocol, remote_address, remote_port, local_port, opened_at, closed_at, last_activity_at)
            VALUES (@id, @tenantId, 'gw-1', @protocol, '127.0.0.1', 40000, 8080, @openedAt, @closedAt, @openedAt)
            """,
            new { id, tenantId, protocol, openedAt, closedAt });
}
