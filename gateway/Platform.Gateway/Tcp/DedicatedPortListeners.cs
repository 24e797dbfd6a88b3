using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Platform.Contracts.Connections;
using Platform.Contracts.Internal;
using Platform.Contracts.Problems;
using Platform.Gateway.Admission;
using Platform.Gateway.Hosting;
using Platform.Gateway.ProxyProtocol;
using Platform.Gateway.Tenants;
using Platform.Gateway.Tls;

namespace Platform.Gateway.Tcp;

/// <summary>
/// Per-tenant TCP and TLS ports, opened and closed as snapshots change. Kestrel cannot add endpoints
/// while running, so these use plain socket accept loops feeding the same <see cref="TcpPipeline"/>.
/// Closing a port stops accepting; connections already open on it continue. A port that cannot be bound
/// (still held by another process, say) is tried again every few seconds until it opens or is released.
/// The port names the tenant, so its listener policy applies at accept and a TLS handshake counts against the
/// tenant's half-open caps from accept to its end.
/// </summary>
internal sealed partial class DedicatedPortListeners : IHostedService, IDisposable
{
    private static readonly TimeSpan BindRetryInterval = TimeSpan.FromSeconds(2);
    private readonly Dictionary<int, PortListener> _open = [];
    private readonly Lock _lock = new();
    private readonly TenantSnapshotStore _store;
    private readonly AdmissionController _admission;
    private readonly HalfOpenCounter _halfOpen;
    private readonly TcpPipeline _pipeline;
    private readonly TlsSelector _tls;
    private readonly ProxyProtocolGate _proxy;
    private readonly GatewayMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly GatewayOptions _options;
    private readonly ILogger<DedicatedPortListeners> _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ITimer _bindRetry;
    private bool _started;

    public DedicatedPortListeners(
        TenantSnapshotStore store,
        AdmissionController admission,
        HalfOpenCounter halfOpen,
        TcpPipeline pipeline,
        TlsSelector tls,
        ProxyProtocolGate proxy,
        GatewayMetrics metrics,
        IOptions<GatewayOptions> options,
        TimeProvider time,
        ILogger<DedicatedPortListeners> logger)
    {
        _metrics = metrics;
        _time = time;
        _store = store;
        _admission = admission;
        _halfOpen = halfOpen;
        _pipeline = pipeline;
        _tls = tls;
        _proxy = proxy;
        _options = options.Value;
        _logger = logger;
        _bindRetry = time.CreateTimer(static state => ((DedicatedPortListeners)state!).Reconcile(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _store.Changed += (_, _) => Reconcile();
    }

    /// <summary>Ports currently listening.</summary>
    public IReadOnlyCollection<int> OpenPorts
    {
        get
        {
            lock (_lock)
            {
                return [.. _open.Keys];
            }
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _started = true;
        Reconcile();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        lock (_lock)
        {
            _bindRetry.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            foreach (var listener in _open.Values)
            {
                listener.Socket.Dispose();
            }

            _open.Clear();
        }
    }

    public void Dispose()
    {
        _bindRetry.Dispose();
        _stopping.Dispose();
    }

    // Always against the newest snapshot, read under the lock: a late retry must not reopen a port a newer
    // snapshot released.
    private void Reconcile()
    {
        if (!_started || _stopping.IsCancellationRequested)
        {
            return;
        }

        lock (_lock)
        {
            var snapshot = _store.Current;
            var bindFailed = false;
            foreach (var port in _open.Keys.ToList())
            {
                if (!snapshot.ByPort.TryGetValue(port, out var wanted) || wanted.Protocol != _open[port].Protocol)
                {
                    _open[port].Socket.Dispose();
                    _open.Remove(port);
                    Log.Closed(_logger, port);
                }
            }

            foreach (var (port, listener) in snapshot.ByPort)
            {
                if (_open.ContainsKey(port) || listener.Protocol is not (ConnectionProtocols.Tcp or ConnectionProtocols.Tls))
                {
                    continue;
                }

                if (port < _options.DedicatedPortMin || port > _options.DedicatedPortMax)
                {
                    Log.OutOfRange(_logger, port, listener.Tenant.Slug);
                    continue;
                }

                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                    socket.Bind(new IPEndPoint(IPAddress.Parse(_options.ListenAddress), port));
                    socket.Listen(512);
                }
                catch (SocketException ex)
                {
                    socket.Dispose();
                    Log.BindFailed(_logger, port, listener.Tenant.Slug, ex.SocketErrorCode);
                    bindFailed = true;
                    continue;
                }

                var open = new PortListener(port, listener.Protocol, socket);
                _open[port] = open;
                _ = AcceptLoopAsync(open);
                Log.Opened(_logger, port, listener.Protocol, listener.Tenant.Slug);
            }

            _bindRetry.Change(bindFailed ? BindRetryInterval : Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }

    private async Task AcceptLoopAsync(PortListener listener)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.Socket.AcceptAsync(_stopping.Token);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return;
            }

            _ = ServeAsync(listener, client);
        }
    }

    private async Task ServeAsync(PortListener listener, Socket client)
    {
        using (client)
        {
            if (!_store.Current.ByPort.TryGetValue(listener.Port, out var route) || client.RemoteEndPoint is not IPEndPoint remote)
            {
                return;
            }

            // Behind a load balancer the header comes first and names the client for everything below.
            var early = ReadOnlyMemory<byte>.Empty;
            if (_proxy.IsRequired(ProxyListener.Dedicated))
            {
                if (await _proxy.AcceptAsync(client, remote, ProxyListener.Dedicated, _stopping.Token) is not { } carried)
                {
                    return;
                }

                (remote, early) = carried;
            }

            var tenant = route.Tenant;
            HalfOpenSlot? halfOpen = null;
            if (listener.Protocol == ConnectionProtocols.Tls)
            {
                halfOpen = _halfOpen.TryEnterTenant(tenant, remote.Address);
                if (halfOpen is null)
                {
                    // Refused without reading the ClientHello: waiting for it is what the cap keeps from piling up.
                    _admission.CountRefusal(tenant.Slug, ConnectionProtocols.Tls, RefusalReason.HalfOpenLimit);
                    Log.HalfOpenLimit(_logger, listener.Port, tenant.Slug, remote);
                    await using var network = new NetworkStream(client, ownsSocket: false);
                    await TlsAlert.TrySendAsync(network, TlsAlert.HandshakeFailure);
                    return;
                }
            }

            using (halfOpen)
            {
                await ServeTenantAsync(listener, client, early, tenant, remote, halfOpen);
            }
        }
    }

    /// <summary>The listener policy, admission, the TLS handshake if any, then the connection.</summary>
    /// <param name="early">Bytes read with the PROXY header that belong to the client's stream.</param>
    private async Task ServeTenantAsync(PortListener listener, Socket client, ReadOnlyMemory<byte> early, TenantRuntime tenant, IPEndPoint remote, HalfOpenSlot? halfOpen)
    {
        if (!tenant.Accepts(listener.Protocol))
        {
            if (listener.Protocol == ConnectionProtocols.Tls)
            {
                // Answered during the handshake, with access_denied, and nothing taken from admission.
                await using var network = new NetworkStream(client, ownsSocket: false);
                await using var ssl = new SslStream(early.IsEmpty ? network : new ReplayStream(early, network, ownsInner: false), leaveInnerStreamOpen: true);
                await HandshakeAsync(ssl, network, tenant, listener.Port, remote, halfOpen, refuse: true);
                return;
            }

            // Plain TCP has nothing to answer with: the connection is closed at accept.
            _admission.CountRefusal(tenant.Slug, listener.Protocol, RefusalReason.ProtocolNotAllowed);
            Log.ProtocolNotAllowed(_logger, listener.Port, tenant.Slug, remote);
            return;
        }

        var (refusal, ticket) = await _admission.AdmitAsync(tenant, listener.Protocol, remote.Address, _stopping.Token);
        if (refusal != RefusalReason.None)
        {
            return;
        }

        using (ticket)
        {
            SocketTuning.Apply(client, tenant.Config.Socket);
            var network = new NetworkStream(client, ownsSocket: false);
            Stream stream = early.IsEmpty ? network : new ReplayStream(early, network, ownsInner: true);
            try
            {
                TlsFacts? facts = null;
                if (listener.Protocol == ConnectionProtocols.Tls)
                {
                    var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                    stream = ssl;
                    facts = await HandshakeAsync(ssl, network, tenant, listener.Port, remote, halfOpen, refuse: false);
                    if (facts is null)
                    {
                        return;
                    }
                }

                var transport = new StreamDuplexPipe(stream);
                var local = client.LocalEndPoint as IPEndPoint ?? new IPEndPoint(IPAddress.None, listener.Port);
                await _pipeline.RunAsync(tenant, transport, remote, local, listener.Protocol, facts, _stopping.Token);
                await transport.CompleteAsync();
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or SocketException)
            {
                // The client went away after the connection was set up; the pipeline has recorded the close.
                Log.ConnectionFailed(_logger, listener.Port, remote, ex.Message);
            }
            finally
            {
                await stream.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// The server side of a dedicated TLS port's handshake, bounded by the tenant's handshake timeout (never
    /// above the gateway's cap); its half-open count ends with it. Null when it failed; the failure is counted once and,
    /// when tenant selection refused it, the client gets the alert. With <paramref name="refuse"/> the tenant does not accept raw TLS, and the
    /// handshake is refused with access_denied once the ClientHello has arrived.
    /// </summary>
    private async Task<TlsFacts?> HandshakeAsync(
        SslStream ssl, NetworkStream network, TenantRuntime tenant, int port, IPEndPoint remote, HalfOpenSlot? halfOpen, bool refuse)
    {
        var items = new Dictionary<object, object?>();
        var started = _time.GetTimestamp();
        using var handshake = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        handshake.CancelAfter(_tls.HandshakeTimeoutFor(tenant));
        try
        {
            await ssl.AuthenticateAsServerAsync(
                (_, info, _, _) => refuse
                    ? throw _tls.RefuseProtocol(tenant, ConnectionProtocols.Tls, items)
                    : ValueTask.FromResult(_tls.Build(tenant, ConnectionProtocols.Tls, info.ServerName, items)),
                null,
                handshake.Token);
            _metrics.HandshakeCompleted(GatewayMetrics.TlsHandshake, ConnectionProtocols.Tls, _time.GetElapsedTime(started));
            return TlsSelector.Facts(ssl.SslProtocol, ssl.NegotiatedCipherSuite, ssl.TargetHostName, items);
        }
        catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException or OperationCanceledException or SocketException)
        {
            if ((ex as TlsRefusedException ?? ex.InnerException as TlsRefusedException) is { } refused)
            {
                await TlsAlert.TrySendAsync(network, refused.Alert);
            }

            if (!TlsSelector.IsCounted(items))
            {
                _admission.CountRefusal(tenant.Slug, ConnectionProtocols.Tls, RefusalReason.TlsFailed);
            }

            Log.HandshakeFailed(_logger, port, remote, ex.Message);
            return null;
        }
        finally
        {
            halfOpen?.Dispose();
        }
    }

    private sealed record PortListener(int Port, string Protocol, Socket Socket);

    /// <summary>Pipes over a stream, with bounded buffers in both directions.</summary>
    private sealed class StreamDuplexPipe(Stream stream) : IDuplexPipe
    {
        public PipeReader Input { get; } = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, leaveOpen: true));

        public PipeWriter Output { get; } = PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true));

        public async Task CompleteAsync()
        {
            await Input.CompleteAsync();
            await Output.CompleteAsync();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 6101, Level = LogLevel.Information, Message = "Dedicated {Protocol} port {Port} opened for {Tenant}")]
        public static partial void Opened(ILogger logger, int port, string protocol, string tenant);

        [LoggerMessage(EventId = 6102, Level = LogLevel.Information, Message = "Dedicated port {Port} closed")]
        public static partial void Closed(ILogger logger, int port);

        [LoggerMessage(EventId = 6103, Level = LogLevel.Error, Message = "Dedicated port {Port} for {Tenant} cannot be bound: {Error}; retrying")]
        public static partial void BindFailed(ILogger logger, int port, string tenant, SocketError error);

        [LoggerMessage(EventId = 6104, Level = LogLevel.Warning, Message = "Dedicated port {Port} of {Tenant} is outside this gateway's range; not opened")]
        public static partial void OutOfRange(ILogger logger, int port, string tenant);

        [LoggerMessage(EventId = 6105, Level = LogLevel.Debug, Message = "Dedicated port {Port}: TLS handshake from {Remote} failed: {Error}")]
        public static partial void HandshakeFailed(ILogger logger, int port, IPEndPoint remote, string error);

        [LoggerMessage(EventId = 6106, Level = LogLevel.Debug, Message = "Dedicated port {Port}: connection from {Remote} ended: {Error}")]
        public static partial void ConnectionFailed(ILogger logger, int port, IPEndPoint remote, string error);

        [LoggerMessage(EventId = 6107, Level = LogLevel.Debug, Message = "Dedicated port {Port}: {Tenant} does not accept this listener; {Remote} refused")]
        public static partial void ProtocolNotAllowed(ILogger logger, int port, string tenant, IPEndPoint remote);

        [LoggerMessage(EventId = 6108, Level = LogLevel.Debug, Message = "Dedicated port {Port}: {Tenant} is at its half-open limit; {Remote} refused")]
        public static partial void HalfOpenLimit(ILogger logger, int port, string tenant, IPEndPoint remote);
    }
}
