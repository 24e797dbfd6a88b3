using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Platform.Cluster.Telemetry;

namespace Platform.Silo.Telemetry;

/// <summary>OpenTelemetry metrics of the silo, scraped by Prometheus at <c>/metrics</c> on the admin listener.</summary>
internal static class SiloTelemetry
{
    public const string ScrapePath = "/metrics";

    public static IServiceCollection AddSiloTelemetry(this IServiceCollection services)
    {
        services.AddSingleton<SiloMetrics>();
        services.AddSingleton<GatewayRevisionLag>();
        services.AddSingleton<AdminListener>();
        services.AddHostedService(static sp => sp.GetRequiredService<AdminListener>());
        services.AddOpenTelemetry()
            .ConfigureResource(static resource => resource.AddService("platform-silo"))
            .WithMetrics(static metrics => metrics
            .AddMeter(SiloMetrics.MeterName, GrainCallMetrics.MeterName)
            .AddAspNetCoreInstrumentation()
            .AddRuntimeInstrumentation()
            .AddPrometheusExporter());
        return services;
    }
}
