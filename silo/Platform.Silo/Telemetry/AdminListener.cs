using System.Diagnostics.Metrics;
using OpenTelemetry.Metrics;

namespace Platform.Silo.Telemetry;

/// <summary>
/// The silo's admin listener (<c>Platform:AdminUrls</c>, loopback by default): <c>/metrics</c> for Prometheus and
/// <c>/healthz</c>, on a Kestrel server of its own beside the REST API's. Nothing else is routed there, and the REST
/// port has no <c>/metrics</c>: tenants reach the one, only the operator's network the other.
/// </summary>
internal sealed partial class AdminListener(
    IServiceProvider services,
    PlatformOptions platform,
    GatewayRevisionLag revisionLag,
    ILogger<AdminListener> logger) : IHostedService, IAsyncDisposable
{
    private WebApplication? _app;

    /// <summary>The bound addresses once started (a port 0 in the settings replaced by the port chosen).</summary>
    public IReadOnlyList<Uri> Addresses { get; private set; } = [];

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // An empty builder reads no environment or command line: the REST API's URLs (ASPNETCORE_URLS) stay its own.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().UseUrls(platform.AdminUrls);
        builder.Services.AddLogging();
        // The process's logging and meters: the admin server's own requests count in the silo's ASP.NET Core metrics.
        builder.Services.AddSingleton(services.GetRequiredService<ILoggerFactory>());
        builder.Services.AddSingleton(services.GetRequiredService<IMeterFactory>());
        var app = builder.Build();
        app.UseOpenTelemetryPrometheusScrapingEndpoint(
            services.GetRequiredService<MeterProvider>(),
            predicate: null,
            path: SiloTelemetry.ScrapePath,
            configureBranchedPipeline: branch => branch.Use(async (context, next) =>
            {
                await revisionLag.RefreshAsync(context.RequestAborted);
                await next(context);
            }),
            optionsName: null);
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

    [LoggerMessage(EventId = 7702, Level = LogLevel.Information, Message = "Admin listener (metrics, health) on {Addresses}")]
    private static partial void LogListening(ILogger logger, ICollection<string> addresses);
}
