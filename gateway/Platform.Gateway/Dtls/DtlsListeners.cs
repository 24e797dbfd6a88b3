using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Platform.Contracts.Connections;
using Platform.Gateway.Dtls.Tenants;
using Platform.Gateway.Hosting;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Dtls;

/// <summary>
/// The gateway's DTLS listeners: the shared one on <see cref="GatewayOptions.DtlsPort"/> (tenant by SNI or PSK
/// identity) and one per dedicated DTLS port in the snapshot. Every snapshot change compiles a new
/// <see cref="DtlsTenantDirectory"/> and swaps it into every listener, so certificates and PSKs changed through the
/// REST API apply to the next handshake while sessions keep what they negotiated.
/// </summary>
internal sealed partial class DtlsListeners : IHostedService, IAsyncDisposable
{
    /// <summary>How long a replaced directory stays alive for handshakes that read it just before the swap.</summary>
    private static readonly TimeSpan RetireDelay = TimeSpan.FromSeconds(30);

    private readonly Lock _lock = new();
    private readonly Dictionary<int, DtlsServer> _dedicated = [];
    private readonly Dictionary<DtlsServer, DtlsGatewayHandler> _handlers = [];
    private readonly TenantSnapshotStore _store;
    private readonly DtlsDirectoryCompiler _compiler;
    private readonly IServiceProvider _services;
    private readonly GatewayListeners _listeners;
    private readonly GatewayOptions _options;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger<DtlsListeners> _logger;
    private DtlsTenantDirectory _directory = DtlsTenantDirectory.Empty;
    private DtlsServer? _shared;
    private bool _started;
    private bool _stopped;

    public DtlsListeners(
        TenantSnapshotStore store,
        DtlsDirectoryCompiler compiler,
        IServiceProvider services,
        GatewayListeners listeners,
        IOptions<GatewayOptions> options,
        TimeProvider time,
        ILoggerFactory loggers)
    {
        _store = store;
        _compiler = compiler;
        _services = services;
        _listeners = listeners;
        _options = options.Value;
        _time = time;
        _loggers = loggers;
        _logger = loggers.CreateLogger<DtlsListeners>();
        _store.Changed += (_, next) => Apply(next);
    }

    /// <summary>The shared listener's bound port, or 0 when it is off.</summary>
    public int SharedPort => _shared?.LocalEndPoint.Port ?? 0;

    /// <summary>The shared listener, when it is on.</summary>
    public DtlsServer? Shared => _shared;

    /// <summary>Dedicated DTLS ports currently listening.</summary>
    public IReadOnlyCollection<int> DedicatedPorts
    {
        get
        {
            lock (_lock)
            {
                return [.. _dedicated.Keys];
            }
        }
    }

    /// <summary>
    /// The listeners running now with their ports, the shared one first; a dedicated port's listener is gone from here
    /// as soon as the snapshot drops the port. Read by <see cref="DtlsMetrics"/> at each collection.
    /// </summary>
    public IReadOnlyList<(int Port, DtlsServer Server)> Running
    {
        get
        {
            lock (_lock)
            {
                var running = new List<(int, DtlsServer)>(_dedicated.Count + 1);
                if (_shared is not null)
                {
                    running.Add((_listeners.DtlsPort, _shared));
                }

                foreach (var (port, server) in _dedicated)
                {
                    running.Add((port, server));
                }

                return running;
            }
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            _started = true;
            _directory = _compiler.Compile(_store.Current);
            if (_options.DtlsPort >= 0)
            {
                _shared = Start(new IPEndPoint(IPAddress.Parse(_options.ListenAddress), _options.DtlsPort), null);
                _listeners.DtlsPort = _shared?.LocalEndPoint.Port ?? 0;
            }

            ReconcileDedicated(_store.Current);
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        List<DtlsServer> servers;
        List<DtlsGatewayHandler> handlers;
        lock (_lock)
        {
            _stopped = true;
            handlers = [.. _handlers.Values];
            _handlers.Clear();
            servers = [.. _dedicated.Values];
            if (_shared is not null)
            {
                servers.Add(_shared);
            }

            _dedicated.Clear();
            _shared = null;
        }

        // close_notify to every session, then the sockets close; the connections then report their close.
        await Task.WhenAll(servers.Select(s => s.StopAsync()));
        await Task.WhenAll(handlers.Select(h => h.WhenFinishedAsync())).WaitAsync(cancellationToken);
        _directory.Dispose();
    }

    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None);

    private void Apply(GatewaySnapshot snapshot)
    {
        DtlsTenantDirectory next;
        DtlsTenantDirectory previous;
        lock (_lock)
        {
            if (!_started || _stopped)
            {
                return;
            }

            previous = _directory;
            next = _compiler.Compile(snapshot, previous);
            _directory = next;
            _shared?.UpdateTenants(next);
            foreach (var server in _dedicated.Values)
            {
                server.UpdateTenants(next);
            }

            ReconcileDedicated(snapshot);
        }

        // A handshake may have read the previous directory just before the swap; its contexts outlive that moment.
        _ = RetireAsync(previous);
    }

    private async Task RetireAsync(DtlsTenantDirectory directory)
    {
        if (ReferenceEquals(directory, DtlsTenantDirectory.Empty))
        {
            return;
        }

        await Task.Delay(RetireDelay, _time).ConfigureAwait(false);
        directory.Dispose();
    }

    private void ReconcileDedicated(GatewaySnapshot snapshot)
    {
        foreach (var (port, server) in _dedicated.ToList())
        {
            if (!snapshot.ByPort.TryGetValue(port, out var wanted)
                || wanted.Protocol != ConnectionProtocols.Dtls
                || wanted.Tenant.Id.ToString() != server.Options.DedicatedTenantId)
            {
                _dedicated.Remove(port);
                _handlers.Remove(server);
                _ = server.StopAsync();
                Log.Closed(_logger, port);
            }
        }

        foreach (var (port, listener) in snapshot.ByPort)
        {
            if (listener.Protocol != ConnectionProtocols.Dtls || _dedicated.ContainsKey(port))
            {
                continue;
            }

            if (port < _options.DedicatedPortMin || port > _options.DedicatedPortMax)
            {
                Log.OutOfRange(_logger, port, listener.Tenant.Slug);
                continue;
            }

            var server = Start(new IPEndPoint(IPAddress.Parse(_options.ListenAddress), port), listener.Tenant);
            if (server is not null)
            {
                _dedicated[port] = server;
            }
        }
    }

    private DtlsServer? Start(IPEndPoint endPoint, TenantRuntime? dedicatedTo)
    {
        var handler = ActivatorUtilities.CreateInstance<DtlsGatewayHandler>(_services);
        var server = new DtlsServer(
            new DtlsServerOptions
            {
                LocalEndPoint = endPoint,
                DedicatedTenantId = dedicatedTo?.Id.ToString(),
                Mtu = _options.DtlsMtu,
                MaxHalfOpenHandshakesPerSource = _options.DtlsMaxHalfOpenHandshakesPerSource,
                MaxUnassignedHandshakes = _options.DtlsMaxUnassignedHandshakes,
                HandshakeWorkers = _options.DtlsHandshakeWorkers > 0 ? _options.DtlsHandshakeWorkers : Environment.ProcessorCount,
                ReceiveSockets = _options.DtlsReceiveSockets > 0 ? _options.DtlsReceiveSockets : Environment.ProcessorCount,
                // Dedicated ports (up to one per tenant) keep pool loops: threads of their own would idle on most of them.
                ReceiveThreads = dedicatedTo is null && _options.DtlsReceiveThreads,
                TimeProvider = _time,
            },
            _directory,
            handler,
            _loggers.CreateLogger<DtlsServer>());
        handler.Server = server;
        _handlers[server] = handler;
        try
        {
            server.Start();
        }
        catch (SocketException ex)
        {
            _handlers.Remove(server);
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            if (dedicatedTo is null)
            {
                throw;
            }

            Log.BindFailed(_logger, endPoint.Port, dedicatedTo.Slug, ex.SocketErrorCode);
            return null;
        }

        if (dedicatedTo is not null)
        {
            Log.Opened(_logger, server.LocalEndPoint.Port, dedicatedTo.Slug);
        }

        return server;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 7201, Level = LogLevel.Information, Message = "Dedicated DTLS port {Port} opened for {Tenant}")]
        public static partial void Opened(ILogger logger, int port, string tenant);

        [LoggerMessage(EventId = 7202, Level = LogLevel.Information, Message = "Dedicated DTLS port {Port} closed")]
        public static partial void Closed(ILogger logger, int port);

        [LoggerMessage(EventId = 7203, Level = LogLevel.Error, Message = "Dedicated DTLS port {Port} for {Tenant} cannot be bound: {Error}")]
        public static partial void BindFailed(ILogger logger, int port, string tenant, SocketError error);

        [LoggerMessage(EventId = 7204, Level = LogLevel.Warning, Message = "Dedicated DTLS port {Port} of {Tenant} is outside this gateway's range; not opened")]
        public static partial void OutOfRange(ILogger logger, int port, string tenant);
    }
}
