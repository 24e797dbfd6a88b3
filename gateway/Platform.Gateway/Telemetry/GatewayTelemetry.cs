using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Platform.Cluster.Telemetry;
using Platform.Gateway.Admission;
using Platform.Gateway.Dtls;
using Platform.Gateway.Hosting;

namespace Platform.Gateway.Telemetry;

/// <summary>OpenTelemetry metrics of the gateway, scraped by Prometheus at <c>/metrics</c> on the admin listener only.</summary>
internal static class GatewayTelemetry
{
    public const string ScrapePath = "/metrics";

    public static IServiceCollection AddGatewayTelemetry(this IServiceCollection services)
    {
        services.AddSingleton<GatewayGauges>();
        services.AddSingleton<DtlsMetrics>();
        services.AddOpenTelemetry()
            .ConfigureResource(static resource => resource.AddService("platform-gateway"))
            .WithMetrics(static metrics => metrics
            .AddMeter(GatewayMetrics.MeterName, GrainCallMetrics.MeterName)
            .AddAspNetCoreInstrumentation()
            .AddRuntimeInstrumentation()
            // The per-tenant refusal and open/close counts stay on the measurements (the heartbeat's refusal ledger and
            // tests read them there); Prometheus gets bounded label sets: the open connections gauge carries the tenant.
            .AddView("platform.gateway.refusals", new MetricStreamConfiguration { TagKeys = ["protocol", "reason"] })
            .AddView("platform.gateway.connections.opened", new MetricStreamConfiguration { TagKeys = ["protocol"] })
            .AddView("platform.gateway.connections.closed", new MetricStreamConfiguration { TagKeys = ["protocol"] })
            .AddPrometheusExporter());
        return services;
    }

    /// <summary>
    /// Serves the scrape endpoint on the admin listener only (on loopback by default; Prometheus scrapes without
    /// credentials). The public listeners never reach the HTTP pipeline's routes: ws and
    /// wss read their own requests and answer <c>/metrics</c> as a path no tenant serves (404).
    /// </summary>
    public static WebApplication UseGatewayTelemetry(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.Services.GetRequiredService<GatewayGauges>();
        app.Services.GetRequiredService<DtlsMetrics>();
        var listeners = app.Services.GetRequiredService<GatewayListeners>();
        app.UseOpenTelemetryPrometheusScrapingEndpoint(context => IsScrape(context, listeners));
        return app;
    }

    private static bool IsScrape(HttpContext context, GatewayListeners listeners) =>
        context.Request.Path == ScrapePath && listeners.IsAdmin(context.Connection.LocalPort);
}
