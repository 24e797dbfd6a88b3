using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Stats;
using Platform.Gateway.Silo;
using Platform.Gateway.Tests.Support;

namespace Platform.Gateway.Tests.EndToEnd;

/// <summary>Refusals counted by a real gateway reach the silo's refusal report through the heartbeat.</summary>
public sealed class RefusalReportingTests
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task RefusedUpgrade_AfterHeartbeat_ListedInSiloRefusals()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig { Access = new AccessConfig { BlockedClients = "127.0.0.3" } });
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");

        var blocked = await RawHttp.UpgradeAsync(gateway.WsEndPoint, "acme.platform.test", "/", IPAddress.Parse("127.0.0.3"));
        var unknown = await RawHttp.UpgradeAsync(gateway.WsEndPoint, "nobody.platform.test", "/");
        Assert.Equal(403, blocked.Status);
        Assert.Equal(404, unknown.Status);

        var report = await WaitForReportAsync(silo, "/v1/refusals", r => Count(r, "blocked") == 1 && Count(r, "unknown_tenant") == 1);
        Assert.Contains(report.Buckets.Items, b => b is { Tenant: "acme", Protocol: "ws", Reason: "blocked", Count: 1 });
        Assert.Contains(report.Buckets.Items, b => b is { Tenant: null, Protocol: "ws", Reason: "unknown_tenant", Count: 1 });
        var own = await silo.Operator.GetFromJsonAsync<RefusalReport>(new Uri("/v1/tenants/acme/refusals", UriKind.Relative), PlatformJson.Options);
        Assert.Equal(1, own!.Total);
    }

    [Fact]
    public async Task SiloUnreachable_RefusalsKeptAndReportedOnceItIsBack()
    {
        await using var silo = await SiloFixture.StartAsync(behindRelay: true);
        await silo.CreateTenantAsync("acme", new TenantConfig { Access = new AccessConfig { BlockedClients = "127.0.0.3" } });
        var relay = silo.Relay!;
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");
        var registration = gateway.Services.GetRequiredService<GatewayRegistration>();

        relay.Cut();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(403, (await RawHttp.UpgradeAsync(gateway.WsEndPoint, "acme.platform.test", "/", IPAddress.Parse("127.0.0.3"))).Status);
        }

        // Heartbeats carrying the batch fail while the silo is cut off; nothing has arrived there.
        var failed = registration.FailedHeartbeats;
        await WaitUntilAsync(() => registration.FailedHeartbeats >= failed + 2, "two failed heartbeats");
        var during = await silo.Operator.GetFromJsonAsync<RefusalReport>(new Uri("/v1/refusals", UriKind.Relative), PlatformJson.Options);
        Assert.Equal(0, Count(during!, "blocked"));

        relay.Restore();
        await WaitForReportAsync(silo, "/v1/refusals", r => Count(r, "blocked") >= 3);
        // Later heartbeats neither lose nor repeat the batch.
        var beats = registration.Heartbeats;
        await WaitUntilAsync(() => registration.Heartbeats >= beats + 2, "two more heartbeats");
        var after = await silo.Operator.GetFromJsonAsync<RefusalReport>(new Uri("/v1/refusals", UriKind.Relative), PlatformJson.Options);
        Assert.Equal(3, Count(after!, "blocked"));
    }

    private static long Count(RefusalReport report, string reason) =>
        report.ByReason.Where(r => r.Reason == reason).Sum(r => r.Count);

    private static async Task<RefusalReport> WaitForReportAsync(SiloFixture silo, string path, Func<RefusalReport, bool> condition)
    {
        var deadline = DateTime.UtcNow + WaitLimit;
        while (true)
        {
            var report = (await silo.Operator.GetFromJsonAsync<RefusalReport>(new Uri(path, UriKind.Relative), PlatformJson.Options))!;
            if (condition(report))
            {
                return report;
            }

            Assert.True(DateTime.UtcNow < deadline,
                $"{path} did not reach the expected counts within {WaitLimit.TotalSeconds} s; it holds: "
                + string.Join(", ", report.ByReason.Select(r => $"{r.Reason}={r.Count}")));
            await Task.Delay(50);
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + WaitLimit;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Waited {WaitLimit.TotalSeconds} s for {what}.");
            await Task.Delay(20);
        }
    }
}
