using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Platform.AdminWeb.Telemetry;

/// <summary>OpenTelemetry metrics of the portal (ASP.NET Core and runtime), scraped at <c>/metrics</c> on the admin listener.</summary>
internal static class PortalTelemetry
{
    public const string ScrapePath = "/metrics";

    public static IServiceCollection AddPortalTelemetry(this IServiceCollection services)
    {
        services.AddSingleton<AdminListener>();
        services.AddHostedService(static sp => sp.GetRequiredService<AdminListener>());
        services.AddOpenTelemetry()
            .ConfigureResource(static resource => resource.AddService("platform-portal"))
            .WithMetrics(static metrics => metrics
            .AddAspNetCoreInstrumentation()
            .AddRuntimeInstrumentation()
            .AddPrometheusExporter());
        return services;
    }
}
