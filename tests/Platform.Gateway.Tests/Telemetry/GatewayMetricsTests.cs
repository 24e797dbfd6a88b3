using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using Platform.Contracts.Config;
using Platform.Gateway.Tests.Support;
using Platform.Testing;

namespace Platform.Gateway.Tests.Telemetry;

/// <summary>
/// Prometheus scrapes of a real gateway (its admin listener) and a real silo (its admin listener) over PostgreSQL,
/// after real WebSocket traffic: one connection admitted after waiting for its lease, one refused.
/// </summary>
[Collection(RunAlone.Name)]
public sealed class GatewayMetricsTests
{
    [Fact]
    public async Task Metrics_AfterAnAdmittedAndARefusedWebSocket_ShowEveryFamilyWithItsLabels()
    {
        var siloAdmin = new Uri($"http://127.0.0.1:{FreePorts.Tcp().ToString(CultureInfo.InvariantCulture)}/");
        await using var silo = await SiloFixture.StartAsync(new Dictionary<string, string?> { ["Platform:AdminUrls"] = siloAdmin.ToString().TrimEnd('/') });
        await silo.CreateTenantAsync("acme", new TenantConfig { Limits = new LimitsConfig { MaxConnections = 10 } });
        // No slot kept for an idle tenant: the first connection waits for the lease round trip.
        await using var gateway = await silo.StartGatewayAsync(settings: new Dictionary<string, string?> { ["Platform:LeaseIdleSlots"] = "0" });
        await gateway.WaitForSnapshotAsync(s => s.BySlug.ContainsKey("acme"));
        await gateway.WaitRegisteredAsync();
        var metrics = new Uri($"http://127.0.0.1:{gateway.Listeners.AdminPort.ToString(CultureInfo.InvariantCulture)}/metrics");

        var refused = await RawHttp.UpgradeAsync(gateway.WsEndPoint, "nobody.platform.test", "/");
        Assert.Equal(404, refused.Status);
        using var client = await WsClient.ConnectAsync(gateway.WsUri("acme"));
        await WsClient.SendTextAsync(client, "hello");
        Assert.Equal("hello", await WsClient.ReceiveTextAsync(client));

        var scrape = await PrometheusScrape.WaitAsync(metrics, s => s.Find("http_server_request_duration_seconds_count").Any());

        Assert.Equal(1, scrape.Value("platform_gateway_connections_open", ("tenant", "acme"), ("protocol", "ws")));
        Assert.Equal("gauge", scrape.Types["platform_gateway_connections_open"]);
        Assert.Equal(1, scrape.Value("platform_gateway_admissions_total", ("protocol", "ws")));
        Assert.Equal(1, scrape.Value("platform_gateway_refusals_total", ("protocol", "ws"), ("reason", "unknown_tenant")));
        // Bounded: refusals carry protocol and reason, not the tenant (the open connections gauge carries that).
        Assert.All(scrape.Find("platform_gateway_refusals_total"), s => Assert.False(s.Labels.ContainsKey("tenant")));
        Assert.Equal(1, scrape.Value("platform_gateway_connections_opened_total", ("protocol", "ws")));
        Assert.Equal("histogram", scrape.Types["platform_gateway_handshake_duration_seconds"]);
        Assert.Equal(1, scrape.Value("platform_gateway_handshake_duration_seconds_count", ("handshake", "websocket"), ("protocol", "ws")));
        Assert.Equal(1, scrape.Value("platform_gateway_lease_wait_duration_seconds_count", ("outcome", "acquired")));
        Assert.True(scrape.Value("platform_gateway_lease_slots_granted_total") >= 1, scrape.Text);
        Assert.Equal(1, scrape.Value("platform_gateway_lease_slots", ("state", "in_use")));
        Assert.True(scrape.Value("platform_gateway_lease_slots", ("state", "held")) >= 1, scrape.Text);
        Assert.Equal(gateway.Store.Current.Revision, scrape.Value("platform_gateway_config_revision"));
        Assert.True(gateway.Store.Current.Revision > 0);
        Assert.Equal(0, scrape.Value("platform_gateway_config_revision_lag"));
        Assert.NotEmpty(scrape.Find("dotnet_process_cpu_count"));
        Assert.Contains(scrape.Find("target_info"), s => s.Labels.GetValueOrDefault("service_name") == "platform-gateway");

        // The silo: the quota grain's grant, this gateway's revision lag from its heartbeat, the grain calls behind them.
        var siloScrape = await PrometheusScrape.WaitAsync(new Uri(siloAdmin, "/metrics"),
            s => s.Find("platform_silo_gateway_config_revision_lag", ("gateway", gateway.NodeId)).Any(l => l.Value == 0));
        Assert.True(siloScrape.Value("platform_silo_lease_grants_total", ("result", "granted")) >= 1, siloScrape.Text);
        Assert.True(siloScrape.Value("platform_silo_lease_slots_granted_total") >= 1, siloScrape.Text);
        Assert.True(siloScrape.Sum("platform_grain_call_duration_seconds_count",
            ("direction", "incoming"), ("interface", "Platform.Silo.Quotas.ITenantQuotaGrain"), ("method", "SyncAsync")) >= 1, siloScrape.Text);

        // Closed: the gauge drops the pair, the close is counted.
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        var after = await PrometheusScrape.WaitAsync(metrics, s => !s.Find("platform_gateway_connections_open", ("tenant", "acme")).Any());
        Assert.Equal(1, after.Value("platform_gateway_connections_closed_total", ("protocol", "ws")));
        Assert.Equal(0, after.Value("platform_gateway_lease_slots", ("state", "in_use")));
    }

    [Fact]
    public async Task Metrics_AfterATlsConnection_ShowItsHandshakeAndAdmission()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await TlsTenantSetup.UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        await using var gateway = await silo.StartGatewayAsync();
        await TlsTenantSetup.WaitForCertificatesAsync(gateway, "acme", 1);
        var metrics = new Uri(gateway.AdminUri, "/metrics");

        await using var client = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "acme.platform.test");
        Assert.Equal("hello\n", await client.EchoAsync("hello\n"));
        var scrape = await PrometheusScrape.WaitAsync(metrics, s => s.Find("platform_gateway_connections_open", ("tenant", "acme"), ("protocol", "tls")).Any());

        Assert.Equal(1, scrape.Value("platform_gateway_connections_open", ("tenant", "acme"), ("protocol", "tls")));
        Assert.Equal(1, scrape.Value("platform_gateway_admissions_total", ("protocol", "tls")));
        Assert.Equal(1, scrape.Value("platform_gateway_handshake_duration_seconds_count", ("handshake", "tls"), ("protocol", "tls")));
        Assert.True(scrape.Value("platform_gateway_handshake_duration_seconds_sum", ("handshake", "tls"), ("protocol", "tls")) > 0, scrape.Text);
        Assert.Empty(scrape.Find("platform_gateway_handshake_duration_seconds_count", ("handshake", "websocket")));
    }

    [Fact]
    public async Task Metrics_OnThePublicWsListener_Answers404AndTheAdminListenerServesThem()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");

        var bare = await RawHttp.SendAsync(gateway.WsEndPoint, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        var byPath = await RawHttp.SendAsync(gateway.WsEndPoint, "GET /t/acme/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        var adminScrape = await PrometheusScrape.GetAsync(new Uri(gateway.AdminUri, "/metrics"));
        using var adminClient = new HttpClient();
        var formerCommand = await adminClient.PostAsync(new Uri(gateway.AdminUri, "/internal/v1/drain"), null);

        Assert.Equal(404, bare.Status);
        Assert.DoesNotContain("# TYPE", bare.Body, StringComparison.Ordinal);
        // A tenant's path without an upgrade is no WebSocket request: 400, and no metrics either.
        Assert.Equal(400, byPath.Status);
        Assert.DoesNotContain("# TYPE", byPath.Body, StringComparison.Ordinal);
        Assert.NotEmpty(adminScrape.Find("platform_gateway_config_revision"));
        // Serving /metrics without credentials opens nothing else: the admin listener changes no state.
        Assert.Equal(HttpStatusCode.NotFound, formerCommand.StatusCode);
    }
}
