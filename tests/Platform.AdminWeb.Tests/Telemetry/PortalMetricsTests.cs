using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Platform.AdminWeb.Telemetry;
using Platform.Testing;

namespace Platform.AdminWeb.Tests.Telemetry;

[Collection(RunAlone.Name)]
public sealed class PortalMetricsTests
{
    [Fact]
    public async Task Metrics_OnTheAdminListener_ShowPageRequestsAndTheRuntime_AndThePortalPortAnswers404()
    {
        await using var app = await PortalApp.StartAsync();
        var client = await app.SignedInAsync();
        var dashboard = await client.GetAsync(new Uri("/", UriKind.Relative));
        var onPortal = await client.GetAsync(new Uri("/metrics", UriKind.Relative));
        var admin = app.Services.GetRequiredService<AdminListener>().Addresses[0];

        var scrape = await PrometheusScrape.GetAsync(new Uri(admin, "/metrics"));
        using var adminClient = new HttpClient();
        var health = await adminClient.GetAsync(new Uri(admin, "/healthz"));
        var page = await adminClient.GetAsync(new Uri(admin, "/SignIn"));

        Assert.Equal(HttpStatusCode.OK, dashboard.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, onPortal.StatusCode);
        Assert.DoesNotContain("# TYPE", await onPortal.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.True(scrape.Sum("http_server_request_duration_seconds_count", ("http_request_method", "GET"), ("http_response_status_code", "200")) >= 1, scrape.Text);
        Assert.NotEmpty(scrape.Find("dotnet_process_cpu_count"));
        Assert.Contains(scrape.Find("target_info"), s => s.Labels.GetValueOrDefault("service_name") == "platform-portal");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, page.StatusCode);
    }
}
