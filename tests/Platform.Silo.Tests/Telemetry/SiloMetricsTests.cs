using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Platform.Silo.Quotas;
using Platform.Silo.Telemetry;
using Platform.Silo.Tests.Internal;
using Platform.Silo.Tests.Tenants;
using Platform.Testing;

namespace Platform.Silo.Tests.Telemetry;

[Collection(RunAlone.Name)]
public sealed class SiloMetricsTests
{
    [Fact]
    public async Task Metrics_AfterHeartbeatAndLeaseSync_ShowLagGrantsAndGrainCalls()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, useKestrel: true);
        using var client = silo.OperatorClient();
        var acme = await TenantApiClient.CreateTenantAsync(client, "acme");
        await TenantApiClient.CreateTenantAsync(client, "beta");
        var grains = silo.Services.GetRequiredService<IGrainFactory>();

        // Two gateways: one runs the current revision, one reported the revision before the two tenants were created.
        await silo.RegisterGatewayAsync("gw-current-1a2b3c4d");
        await silo.RegisterGatewayAsync("gw-behind-1a2b3c4d");
        var revision = (await TenantApiClient.ReadAsync<Contracts.Tenants.TenantResponse>(
            await client.GetAsync(TenantApiClient.Url("/v1/tenants/beta"))))!.ConfigRevision;
        Assert.NotNull(await silo.HeartbeatAsync("gw-current-1a2b3c4d", revision));
        Assert.NotNull(await silo.HeartbeatAsync("gw-behind-1a2b3c4d", revision - 2));

        // Asked 4 holding none: 4 granted. Asked 4 holding 4: nothing new.
        var quota = grains.GetGrain<ITenantQuotaGrain>(acme.Id);
        Assert.Equal(4, (await quota.SyncAsync(new QuotaRequest("gw-current-1a2b3c4d", 4, 0, 0, 0))).Slots);
        Assert.Equal(4, (await quota.SyncAsync(new QuotaRequest("gw-current-1a2b3c4d", 4, 1, 4, 0))).Slots);

        var scrape = await PrometheusScrape.GetAsync(MetricsUri(silo));

        Assert.Equal(0, scrape.Value("platform_silo_gateway_config_revision_lag", ("gateway", "gw-current-1a2b3c4d")));
        Assert.Equal(2, scrape.Value("platform_silo_gateway_config_revision_lag", ("gateway", "gw-behind-1a2b3c4d")));
        Assert.Equal("gauge", scrape.Types["platform_silo_gateway_config_revision_lag"]);
        Assert.Equal(2, scrape.Value("platform_silo_lease_grants_total", ("result", "granted")));
        Assert.Equal(4, scrape.Value("platform_silo_lease_slots_granted_total"));
        Assert.Equal("histogram", scrape.Types["platform_grain_call_duration_seconds"]);
        Assert.Equal(2, scrape.Value("platform_grain_call_duration_seconds_count",
            ("direction", "incoming"), ("interface", "Platform.Silo.Quotas.ITenantQuotaGrain"), ("method", "SyncAsync"), ("outcome", "ok")));
        Assert.Equal(2, scrape.Value("platform_grain_call_duration_seconds_count",
            ("direction", "incoming"), ("interface", "Platform.Silo.Gateways.Nodes.IGatewayGrain"), ("method", "HeartbeatAsync"), ("outcome", "ok")));
        // ASP.NET Core (the REST calls above) and the runtime.
        Assert.True(scrape.Sum("http_server_request_duration_seconds_count", ("http_route", "/v1/tenants/")) >= 2, scrape.Text);
        Assert.NotEmpty(scrape.Find("dotnet_gc_collections_total"));
    }

    [Fact]
    public async Task Metrics_OnThePublicPort_Answers404AndTheAdminPortServesHealth()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, useKestrel: true);

        using var operatorClient = silo.OperatorClient();
        var onPublic = await operatorClient.GetAsync(new Uri("/metrics", UriKind.Relative));
        var anonymousOnPublic = await silo.AnonymousClient().GetAsync(new Uri("/metrics", UriKind.Relative));
        using var admin = new HttpClient();
        var health = await admin.GetAsync(new Uri(AdminUri(silo), "/healthz"));
        var elsewhere = await admin.GetAsync(new Uri(AdminUri(silo), "/v1/tenants"));

        Assert.Equal(HttpStatusCode.NotFound, onPublic.StatusCode);
        Assert.DoesNotContain("# TYPE", await onPublic.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        // Without a key every path of the REST port is 401, this one too.
        Assert.Equal(HttpStatusCode.Unauthorized, anonymousOnPublic.StatusCode);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, elsewhere.StatusCode);
        Assert.NotEqual(silo.BaseAddress.Port, AdminUri(silo).Port);
    }

    private static Uri AdminUri(SiloApp silo) => silo.Services.GetRequiredService<AdminListener>().Addresses[0];

    private static Uri MetricsUri(SiloApp silo) => new(AdminUri(silo), "/metrics");
}
