using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Platform.Cluster.Tls;
using Platform.Contracts;
using Platform.Gateway.Admin;
using Platform.Gateway.Admission;
using Platform.Gateway.Commands;
using Platform.Gateway.Connections;
using Platform.Gateway.Delivery;
using Platform.Gateway.Dtls;
using Platform.Gateway.Egress;
using Platform.Gateway.ProxyProtocol;
using Platform.Gateway.Silo;
using Platform.Gateway.Tcp;
using Platform.Gateway.Telemetry;
using Platform.Gateway.Tenants;
using Platform.Gateway.Tls;
using Platform.Gateway.Webhooks;
using Platform.Gateway.WebSockets;

namespace Platform.Gateway.Hosting;

/// <summary>Builds the gateway process: services, Kestrel listeners, the request pipeline.</summary>
public static class GatewayHost
{
    /// <summary>Creates the application; <paramref name="configure"/> lets a host (or a test) adjust the builder first.</summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder(args);
        // Secrets arrive as files, one per key (Platform__SnapshotKey), not as environment variables, which
        // /proc/<pid>/environ shows. Added last, so a file wins over appsettings and the environment.
        if (builder.Configuration["PLATFORM_SECRETS_DIR"] is { Length: > 0 } secretsDirectory)
        {
            builder.Configuration.AddKeyPerFile(Path.GetFullPath(secretsDirectory), optional: false);
        }

        builder.Services.AddOptions<GatewayOptions>()
            .Bind(builder.Configuration.GetSection(GatewayOptions.Section))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        // The cluster transport's certificate, key and CA bundle (Platform:Cluster:Tls), loaded when the client starts.
        builder.Services.AddOptions<ClusterTlsOptions>().Bind(builder.Configuration.GetSection(ClusterTlsOptions.Section));
        AddGatewayServices(builder.Services);
        configure?.Invoke(builder);
        builder.WebHost.ConfigureKestrel(ConfigureKestrel);

        var app = builder.Build();

        // Fail-static: serve the last good snapshot from disk at once; the silo's full answer replaces it.
        var loaded = app.Services.GetRequiredService<SnapshotPersistence>().TryLoad();
        if (loaded is not null)
        {
            app.Services.GetRequiredService<TenantSnapshotStore>().Apply(loaded);
        }

        app.UseGatewayTelemetry();
        app.MapGatewayAdminApi();
        return app;
    }

    private static void AddGatewayServices(IServiceCollection services)
    {
        services.ConfigureHttpJsonOptions(static o => PlatformJson.Configure(o.SerializerOptions));
        services.AddMetrics();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(static sp => new GatewayNode(sp.GetRequiredService<IOptions<GatewayOptions>>().Value.NodeName));
        services.AddSingleton<GatewayListeners>();
        services.AddSingleton<GatewayCommands>();
        services.AddSingleton<ClusterConnection>();
        services.AddSingleton<SiloClient>();
        services.AddSingleton<ILeaseSyncClient>(static sp => sp.GetRequiredService<SiloClient>());
        services.AddSingleton<IConnectionEventClient>(static sp => sp.GetRequiredService<SiloClient>());
        services.AddSingleton<SnapshotCompiler>();
        services.AddSingleton<TenantSnapshotStore>();
        services.AddSingleton<SnapshotPersistence>();
        services.AddSingleton<GatewayMetrics>();
        services.AddGatewayTelemetry();
        services.AddSingleton<DrainState>();
        services.AddSingleton<IReverseDnsResolver, ForwardConfirmedResolver>();
        services.AddSingleton<ReverseDnsCache>();
        // The cluster client first, so that it stops last: the departure below still leaves through it.
        services.AddHostedService(static sp => sp.GetRequiredService<ClusterConnection>());
        // Registered next so that it stops next to last, after the listeners and the event publisher.
        services.AddHostedService<GatewayDeparture>();
        services.AddSingleton<LeaseManager>();
        services.AddHostedService(static sp => sp.GetRequiredService<LeaseManager>());
        services.AddSingleton<AdmissionController>();
        services.AddSingleton<HalfOpenCounter>();
        services.AddSingleton<ConnectionEventSink>();
        services.AddSingleton<ConnectionRegistry>();
        services.AddSingleton<ConnectionEventPublisher>();
        services.AddHostedService(static sp => sp.GetRequiredService<ConnectionEventPublisher>());
        services.AddSingleton<ConnectionMonitor>();
        services.AddHostedService(static sp => sp.GetRequiredService<ConnectionMonitor>());
        services.AddSingleton(static sp => sp.GetRequiredService<IOptions<GatewayOptions>>().Value.Egress.ToPolicy());
        services.AddSingleton<IEgressResolver, SystemEgressResolver>();
        services.AddSingleton<OwnEndpoints>();
        services.AddSingleton<EgressConnector>();
        services.AddSingleton<WebhookHttp>();
        services.AddSingleton<WebhookMetrics>();
        services.AddSingleton<WebhookDispatcher>();
        services.AddSingleton<WebhookStatusLedger>();
        services.AddSingleton<WebhookStatusReporter>();
        services.AddHostedService(static sp => sp.GetRequiredService<WebhookStatusReporter>());
        services.AddSingleton<DeliveryFactory>();
        services.AddSingleton<ProxyProtocolMetrics>();
        services.AddSingleton<ProxyProtocolGate>();
        services.AddSingleton<TlsSelector>();
        services.AddSingleton<WebSocketHandler>();
        services.AddSingleton<ConnectionPump>();
        services.AddSingleton<TcpPipeline>();
        services.AddSingleton<DedicatedPortListeners>();
        services.AddHostedService(static sp => sp.GetRequiredService<DedicatedPortListeners>());
        services.AddSingleton<DtlsDirectoryCompiler>();
        services.AddSingleton<DtlsListeners>();
        services.AddHostedService(static sp => sp.GetRequiredService<DtlsListeners>());
        services.AddSingleton<GatewayRegistration>();
        services.AddHostedService(static sp => sp.GetRequiredService<GatewayRegistration>());
        services.AddSingleton<ConfigWatcher>();
        services.AddHostedService(static sp => sp.GetRequiredService<ConfigWatcher>());
        services.AddSingleton<HeapTrim>();
        services.AddHostedService(static sp => sp.GetRequiredService<HeapTrim>());
    }

    private static void ConfigureKestrel(KestrelServerOptions kestrel)
    {
        var services = kestrel.ApplicationServices;
        var options = services.GetRequiredService<IOptions<GatewayOptions>>().Value;
        var listeners = services.GetRequiredService<GatewayListeners>();
        var selector = services.GetRequiredService<TlsSelector>();
        var proxy = services.GetRequiredService<ProxyProtocolGate>();
        var address = IPAddress.Parse(options.ListenAddress);
        kestrel.AddServerHeader = false;
        // The ws and wss ports read the upgrade request themselves (WebSocketConnectionHandler), which also
        // bounds the time to a complete head; Kestrel's HTTP limits below cover the admin listener.
        kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(options.RequestHeadersTimeoutSeconds);
        kestrel.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(options.RequestHeadersTimeoutSeconds);
        kestrel.Limits.MaxRequestHeadersTotalSize = 16 * 1024;

        if (options.WsPort >= 0)
        {
            kestrel.Listen(address, options.WsPort, l =>
            {
                l.UseProxyProtocol(proxy, ProxyListener.Ws);
                l.UseConnectionHandler<WebSocketConnectionHandler>();
                listeners.Ws = l;
            });
        }

        if (options.WssPort >= 0)
        {
            kestrel.Listen(address, options.WssPort, l =>
            {
                l.UseProxyProtocol(proxy, ProxyListener.Wss);
                l.UseTenantTls(selector);
                l.UseConnectionHandler<WebSocketConnectionHandler>();
                listeners.Wss = l;
            });
        }

        if (options.TlsPort >= 0)
        {
            kestrel.Listen(address, options.TlsPort, l =>
            {
                l.UseProxyProtocol(proxy, ProxyListener.Tls);
                l.UseTenantTls(selector);
                l.UseConnectionHandler<TlsConnectionHandler>();
                listeners.Tls = l;
            });
        }

        kestrel.Listen(IPAddress.Parse(options.AdminAddress), options.AdminPort, l =>
        {
            l.Protocols = HttpProtocols.Http1;
            listeners.Admin = l;
        });
    }
}
