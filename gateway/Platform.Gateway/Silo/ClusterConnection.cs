using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Serialization;
using Platform.Cluster;
using Platform.Cluster.Telemetry;
using Platform.Cluster.Tls;
using Platform.Gateway.Commands;
using Platform.Gateway.Hosting;
using ClusterOptions = Orleans.Configuration.ClusterOptions;

namespace Platform.Gateway.Silo;

/// <summary>
/// The gateway's Orleans cluster client. It runs in a host of its own, started in the background: an Orleans client
/// whose silos do not answer does not finish starting until one does, and the gateway serves from its snapshot
/// meanwhile, so its own start never waits for this. Until the client has connected once, <see cref="Link"/> fails at
/// once (<see cref="ClusterUnavailableException"/>), as an unreachable silo did; from then on Orleans itself finds the
/// silos again when they come and go, and a call meanwhile fails with its own exceptions. The observer commands arrive
/// through is created once, when the client connects, and handed to the silo with every register and heartbeat.
/// </summary>
internal sealed partial class ClusterConnection(
    IOptions<GatewayOptions> options,
    IOptions<ClusterTlsOptions> tlsOptions,
    GatewayNode node,
    IServiceProvider services,
    IHostApplicationLifetime lifetime,
    ILoggerFactory loggerFactory,
    ILogger<ClusterConnection> logger) : IHostedService, IAsyncDisposable
{
    /// <summary>The Orleans service id: one per product, the silos' (<c>ClusterHosting.ServiceId</c>).</summary>
    public const string ServiceId = "platform";

    /// <summary>Longest wait between two connection attempts.</summary>
    public static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan StopLimit = TimeSpan.FromSeconds(10);

    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IHost? _host;
    private Task _start = Task.CompletedTask;
    private Linked? _linked;
    private int _attempts;
    private volatile bool _lost;

    /// <summary>Completes when the client has connected for the first time.</summary>
    public Task FirstConnected => _connected.Task;

    /// <summary>True once the client has connected and while Orleans counts at least one silo it can reach.</summary>
    public bool IsConnected => Volatile.Read(ref _linked) is not null && !_lost;

    /// <summary>
    /// This node's link grain and the observer to hand it; <see cref="ClusterUnavailableException"/> while the client
    /// has not connected yet.
    /// </summary>
    public (IGatewayLinkGrain Grain, IGatewayObserver Observer) Link =>
        Volatile.Read(ref _linked) is { } linked
            ? (linked.Grain, linked.Observer)
            : throw new ClusterUnavailableException();

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var endpoints = settings.ParsedSiloEndpoints().ToArray();
        // Checked here, so a gateway with a missing, mismatched or expired certificate refuses to start and names the
        // setting, instead of serving while every connection to a silo fails its handshake. Real time: a test driving
        // the gateway's clock must not make the certificate look expired.
        var tls = ClusterTlsMaterial.Load(tlsOptions.Value, ClusterTlsRole.Client, TimeProvider.System);
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });

        // The gateway's logging, so the client's warnings land where the gateway's do. Orleans keeps the system clock:
        // a test driving the gateway's clock must not stop the client's timeouts.
        builder.Services.AddSingleton<ILoggerFactory>(new ClientHostLoggerFactory(loggerFactory));
        builder.Services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = settings.ClusterId;
                o.ServiceId = ServiceId;
            });
            client.UseStaticClustering(endpoints);
            client.UseConnectionRetryFilter(RetryAsync);
            client.AddClusterConnectionLostHandler((_, _) => OnLost());
            client.AddGatewayCountChangedHandler((_, e) => OnGatewayCount(e.NumberOfConnectedGateways));
            client.Services.AddSerializer(static s => s.AddPlatformContracts());
            client.UsePlatformTls(tls);
            // Grain call latency as this gateway sees it (docs/metrics.md); the gateway's exporter reads the meter by name.
            client.AddOutgoingGrainCallFilter<GrainCallMetrics>();
        });
        builder.Services.AddMetrics();
        builder.Services.AddSingleton(TimeProvider.System);
        _host = builder.Build();
        var described = string.Join(", ", endpoints.Select(static e => e.ToString()));
        Log.Connecting(logger, described, settings.ClusterId);
        _start = ConnectAsync(_host, _stopping.Token);
        return Task.CompletedTask;
    }

    private async Task ConnectAsync(IHost host, CancellationToken stoppingToken)
    {
        // Off the caller's thread: the gateway's start goes on while this waits for a silo.
        await Task.Yield();
        try
        {
            await host.StartAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            // Every failure to reach a silo is retried above; what remains is a client that can never start (its
            // settings), and a gateway that can never reach its cluster stops rather than serve on unseen.
            Log.CannotStart(logger, ex);
            lifetime.StopApplication();
            return;
        }

        var client = host.Services.GetRequiredService<IClusterClient>();
        // Resolved here, not injected: the commands reach the lease manager, whose lease calls go through this class.
        var commands = services.GetRequiredService<GatewayCommands>();
        var observer = client.CreateObjectReference<IGatewayObserver>(commands);
        Volatile.Write(ref _linked, new Linked(client.GetGrain<IGatewayLinkGrain>(node.NodeId), observer));
        _lost = false;
        var attempts = Volatile.Read(ref _attempts) + 1;
        Log.Connected(logger, attempts);
        _connected.TrySetResult();
    }

    /// <summary>Orleans asks after each failed attempt to connect: wait (longer after each failure) and try again until the gateway stops.</summary>
    private async Task<bool> RetryAsync(Exception exception, CancellationToken cancellationToken)
    {
        var attempt = Interlocked.Increment(ref _attempts);
        var delay = TimeSpan.FromMilliseconds(Math.Min(MaxRetryDelay.TotalMilliseconds, 200.0 * attempt));
        var error = exception.GetType().Name;
        Log.ConnectFailed(logger, attempt, error, exception.Message, delay.TotalMilliseconds);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stopping.Token);
        await Task.Delay(delay, linked.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return !linked.IsCancellationRequested;
    }

    private void OnLost()
    {
        _lost = true;
        if (!_stopping.IsCancellationRequested)
        {
            Log.Lost(logger);
        }
    }

    private void OnGatewayCount(int connected)
    {
        var wasLost = _lost;
        _lost = connected == 0;
        if (wasLost && connected > 0)
        {
            Log.Reconnected(logger, connected);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        await _start;
        if (_host is { } host)
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(StopLimit);
            await host.StopAsync(limit.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_host is IAsyncDisposable host)
        {
            await host.DisposeAsync();
        }

        _stopping.Dispose();
    }

    private sealed record Linked(IGatewayLinkGrain Grain, IGatewayObserver Observer);

    /// <summary>
    /// The gateway's loggers for the client's own host, less that host's "Hosting failed to start" (event 11,
    /// HostedServiceStartupFaulted): a start cancelled because the gateway stops before a silo answered is no fault, and a
    /// start that fails is logged once, with its exception, as <see cref="Log.CannotStart"/>.
    /// </summary>
    private sealed class ClientHostLoggerFactory(ILoggerFactory gateway) : ILoggerFactory
    {
        private const string HostCategory = "Microsoft.Extensions.Hosting.Internal.Host";

        public ILogger CreateLogger(string categoryName) =>
            categoryName == HostCategory ? new WithoutStartFault(gateway.CreateLogger(categoryName)) : gateway.CreateLogger(categoryName);

        public void AddProvider(ILoggerProvider provider) => gateway.AddProvider(provider);

        public void Dispose()
        {
            // The gateway's factory: the gateway's host disposes it.
        }
    }

    private sealed class WithoutStartFault(ILogger host) : ILogger
    {
        private const int HostedServiceStartupFaulted = 11;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => host.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => host.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id != HostedServiceStartupFaulted)
            {
                host.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1501, Level = LogLevel.Information, Message = "Connecting to the cluster {ClusterId} through {Endpoints}")]
        public static partial void Connecting(ILogger logger, string endpoints, string clusterId);

        [LoggerMessage(EventId = 1502, Level = LogLevel.Warning, Message = "Cluster connection attempt {Attempt} failed ({Error}: {Message}); next attempt in {DelayMs} ms, serving from the current snapshot")]
        public static partial void ConnectFailed(ILogger logger, int attempt, string error, string message, double delayMs);

        [LoggerMessage(EventId = 1503, Level = LogLevel.Information, Message = "Connected to the cluster after {Attempts} attempts")]
        public static partial void Connected(ILogger logger, int attempts);

        [LoggerMessage(EventId = 1504, Level = LogLevel.Warning, Message = "Lost the connection to every silo; Orleans keeps trying them")]
        public static partial void Lost(ILogger logger);

        [LoggerMessage(EventId = 1506, Level = LogLevel.Critical, Message = "The cluster client cannot start; stopping the gateway")]
        public static partial void CannotStart(ILogger logger, Exception error);

        [LoggerMessage(EventId = 1505, Level = LogLevel.Information, Message = "Reconnected to the cluster ({Gateways} silo gateways)")]
        public static partial void Reconnected(ILogger logger, int gateways);
    }
}
