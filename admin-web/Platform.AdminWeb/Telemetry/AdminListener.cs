using System.Diagnostics.Metrics;
using OpenTelemetry.Metrics;

namespace Platform.AdminWeb.Telemetry;

/// <summary>
/// The portal's admin listener (<c>Platform:AdminUrls</c>, loopback by default): <c>/metrics</c> for Prometheus and
/// <c>/healthz</c>, on a Kestrel server of its own beside the portal's. Nothing else is routed there, and the portal's
/// port has no <c>/metrics</c>.
/// </summary>
internal sealed partial class AdminListener(IServiceProvider services, PortalOptions options, ILogger<AdminListener> logger) : IHostedService, IAsyncDisposable
{
    private WebApplication? _app;

    /// <summary>The bound addresses once started (a port 0 in the settings replaced by the port chosen).</summary>
    public IReadOnlyList<Uri> Addresses { get; private set; } = [];

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // An empty builder reads no environment or command line: the portal's URLs (ASPNETCORE_URLS) stay its own.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().UseUrls(options.AdminUrls);
        builder.Services.AddLogging();
        // The process's logging and meters: the admin server's own requests count in the portal's ASP.NET Core metrics.
        builder.Services.AddSingleton(services.GetRequiredService<ILoggerFactory>());
        builder.Services.AddSingleton(services.GetRequiredService<IMeterFactory>());
        var app = builder.Build();
        app.UseOpenTelemetryPrometheusScrapingEndpoint(
            services.GetRequiredService<MeterProvider>(), predicate: null, path: PortalTelemetry.ScrapePath, configureBranchedPipeline: null, optionsName: null);
        app.Map("/healthz", static health => health.Run(static context =>
        {
            context.Response.ContentType = "application/json";
            return context.Response.WriteAsync("""{"status":"ok"}""", context.RequestAborted);
        }));
        await app.StartAsync(cancellationToken);
        _app = app;
        Addresses = [.. app.Urls.Select(static a => new Uri(a))];
        LogListening(logger, app.Urls);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
        {
            await _app.StopAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
            _app = null;
        }
    }

    [LoggerMessage(EventId = 2101, Level = LogLevel.Information, Message = "Admin listener (metrics, health) on {Addresses}")]
    private static partial void LogListening(ILogger logger, ICollection<string> addresses);
}
