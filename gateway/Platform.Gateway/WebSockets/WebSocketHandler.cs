using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Contracts.Problems;
using Platform.Gateway.Admission;
using Platform.Gateway.Connections;
using Platform.Gateway.Delivery;
using Platform.Gateway.Hosting;
using Platform.Gateway.Tcp;
using Platform.Gateway.Tenants;
using Platform.Gateway.Tls;

namespace Platform.Gateway.WebSockets;

/// <summary>
/// Serves ws and wss: resolves the tenant, admits from memory, applies the WebSocket policy, starts
/// the delivery (a forward backend is connected before the 101), then pumps messages until either side ends.
/// Every refusal is answered before the upgrade with an RFC 9457 body.
/// </summary>
internal sealed partial class WebSocketHandler(
    TenantSnapshotStore store,
    AdmissionController admission,
    ConnectionPump pump,
    GatewayNode node,
    DeliveryFactory deliveries,
    GatewayMetrics metrics,
    TimeProvider time,
    ILogger<WebSocketHandler> logger)
{
    private const int InitialBuffer = 16 * 1024;
    private const string SupportedVersion = "13";

    /// <param name="started">The <see cref="TimeProvider"/> timestamp at which the request head was first awaited.</param>
    public async Task HandleAsync(ConnectionContext context, string protocol, UpgradeRequest request, long started)
    {
        var output = context.Transport.Output;
        var aborted = context.ConnectionClosed;
        var tls = context.Features.Get<ITlsHandshakeFeature>();
        // Only TLS connections carry items (what the handshake chose); asking a plain one would create them.
        var items = tls is null ? null : context.Items;
        var sni = tls?.HostName;
        var snapshot = store.Current;
        // Over TLS the tenant chosen by SNI during the handshake wins; take its current compiled form.
        var tenant = items is not null && items.TryGetValue(TlsSelector.TenantKey, out var chosen) && chosen is TenantRuntime byTls
            ? snapshot.ById.GetValueOrDefault(byTls.Id)
            : TenantResolver.Resolve(snapshot, sni, request.Host, new PathString(request.Path), out _);
        if (tenant is null)
        {
            admission.CountRefusal("", protocol, RefusalReason.UnknownTenant);
            await Problem.WriteAsync(output, RefusalReason.UnknownTenant, aborted);
            return;
        }

        var remote = context.RemoteEndPoint as IPEndPoint ?? new IPEndPoint(IPAddress.None, 0);
        if (!tenant.Accepts(protocol))
        {
            // Before anything else of the tenant's: a tenant that requires client certificates (and so accepts no
            // plain ws) must not be reachable without TLS by its Host header or path.
            admission.CountRefusal(tenant.Slug, protocol, RefusalReason.ProtocolNotAllowed);
            Log.Refused(logger, tenant.Slug, remote.Address, RefusalReason.ProtocolNotAllowed);
            await Problem.WriteAsync(output, RefusalReason.ProtocolNotAllowed, aborted);
            return;
        }

        if (!request.IsWebSocketRequest)
        {
            admission.CountRefusal(tenant.Slug, protocol, RefusalReason.BadRequest);
            if (request.AsksForWebSocket && request.Version is { Length: > 0 } && request.Version != SupportedVersion)
            {
                // RFC 6455 section 4.4: refuse, naming the version this server speaks.
                await Problem.WriteAsync(output, RefusalReason.BadRequest, aborted, StatusCodes.Status426UpgradeRequired,
                    $"Sec-WebSocket-Version: {SupportedVersion}\r\nUpgrade: websocket\r\n");
                return;
            }

            await Problem.WriteAsync(output, RefusalReason.BadRequest, aborted);
            return;
        }

        var local = context.LocalEndPoint as IPEndPoint ?? new IPEndPoint(IPAddress.None, 0);
        var (refusal, ticket) = await admission.AdmitAsync(tenant, protocol, remote.Address, aborted);
        if (refusal != RefusalReason.None)
        {
            Log.Refused(logger, tenant.Slug, remote.Address, refusal);
            await Problem.WriteAsync(output, refusal, aborted);
            return;
        }

        using (ticket)
        {
            // The tenant's socket options (TCP keep-alive, Nagle, linger) apply from here on, as on its dedicated ports.
            SocketTuning.Apply(context.Features.Get<IConnectionSocketFeature>()?.Socket, tenant.Config.Socket);
            var policy = tenant.WebSocket;
            if (!policy.IsOriginAllowed(request.Origin))
            {
                admission.CountRefusal(tenant.Slug, protocol, RefusalReason.OriginNotAllowed);
                await Problem.WriteAsync(output, RefusalReason.OriginNotAllowed, aborted);
                return;
            }

            var connectionId = node.NextConnectionId();
            var tlsFacts = tls is null ? null : TlsSelector.Facts(tls.Protocol, tls.NegotiatedCipherSuite, sni, items!);
            // A webhook's connect event describes the whole upgrade request; other deliveries need none of it.
            var requestFacts = tenant.Config.Delivery.Mode == DeliveryModes.Webhook
                ? new WebSocketRequestFacts(request.Path, request.Query, request.Host, request.Origin, Offered(request.Protocols), request.Headers())
                : null;
            var facts = new ConnectionFacts(connectionId, protocol, remote, local, sni ?? request.Host, tlsFacts, requestFacts);
            var subProtocol = policy.SelectSubProtocol(Offered(request.Protocols));
            WebSocketDeflateOptions? deflate = null;
            string? extensions = null;
            var compression = policy.PerMessageDeflate && PerMessageDeflate.TryNegotiate(request.Extensions, out deflate, out extensions);
            var stream = new TransportStream(context);
            var socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions
            {
                IsServer = true,
                SubProtocol = subProtocol,
                KeepAliveInterval = policy.PingInterval,
                KeepAliveTimeout = policy.PingInterval > TimeSpan.Zero ? policy.PongTimeout : Timeout.InfiniteTimeSpan,
                DangerousDeflateOptions = compression ? deflate : null,
            });
            stream.Socket = socket;

            var connection = new WsConnection(connectionId, tenant, protocol, remote, local.Port, time, socket)
            {
                Tls = tlsFacts,
                WebSocket = new WebSocketFacts(request.Path, string.IsNullOrEmpty(request.Origin) ? null : request.Origin, subProtocol, request.Host, compression),
            };

            // The forward backend is connected before the 101: an unreachable one is refused with an RFC 9457 body.
            var front = new Front(metrics, time, connection, output, request.Key!, subProtocol, extensions, policy.MaxMessageSize, policy.PingInterval > TimeSpan.Zero, started);
            await pump.RunAsync(
                connection,
                front,
                async (facts, cancellationToken) =>
                {
                    var delivery = await deliveries.CreateAsync(tenant, facts, messageProtocol: true, cancellationToken);
                    if (delivery.SubProtocol is { } chosen)
                    {
                        // The webhook's choice (one the client offered) replaces the policy's, in the 101 and the directory.
                        front.SubProtocol = chosen;
                        connection.WebSocket = connection.WebSocket! with { SubProtocol = chosen };
                    }

                    return delivery;
                },
                facts,
                aborted);
        }
    }

    /// <summary>The sub-protocols a client offered, in its order (RFC 6455: a comma-separated list, possibly over several headers).</summary>
    private static string[] Offered(string? protocols) =>
        protocols is null ? [] : protocols.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The WebSocket side of a connection the <see cref="ConnectionPump"/> runs.</summary>
    private sealed class Front(
        GatewayMetrics metrics,
        TimeProvider time,
        WsConnection connection,
        PipeWriter output,
        string key,
        string? subProtocol,
        string? extensions,
        int maxMessageSize,
        bool pings,
        long started) : IPumpedClient
    {
        public CancellationToken Ending => connection.Aborted;

        /// <summary>The sub-protocol the 101 names: the policy's choice, or the one a webhook's connect answer chose.</summary>
        public string? SubProtocol { get; set; } = subProtocol;

        public ValueTask RefuseAsync(RefusalReason reason, int? status, string? detail, CancellationToken cancellationToken) =>
            status is { } chosen ? Problem.WriteRejectedAsync(output, reason, chosen, detail, cancellationToken) : Problem.WriteAsync(output, reason, cancellationToken);

        public async ValueTask AcceptAsync(CancellationToken cancellationToken)
        {
            await Problem.WriteSwitchingProtocolsAsync(output, key, SubProtocol, extensions, cancellationToken);
            metrics.HandshakeCompleted(GatewayMetrics.WebSocketUpgrade, connection.Protocol, time.GetElapsedTime(started));
        }

        public async Task ReadAsync(BackendWriter backend, CancellationToken cancellationToken)
        {
            var socket = connection.Socket;
            byte[]? buffer = null;
            var count = 0;
            try
            {
                while (true)
                {
                    ValueWebSocketReceiveResult result;
                    if (buffer is null)
                    {
                        // Between messages the connection waits without a buffer (a zero-byte receive): an idle
                        // connection holds no receive memory. It returns once a frame header has arrived.
                        result = await socket.ReceiveAsync(Memory<byte>.Empty, cancellationToken);
                        if (result.MessageType != WebSocketMessageType.Close && !result.EndOfMessage)
                        {
                            buffer = ArrayPool<byte>.Shared.Rent(Math.Min(InitialBuffer, maxMessageSize + 1));
                            continue;
                        }
                    }
                    else
                    {
                        result = await socket.ReceiveAsync(buffer.AsMemory(count), cancellationToken);
                    }

                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        connection.RecordClose((int?)socket.CloseStatus ?? CloseCodes.Normal, socket.CloseStatusDescription);
                        if (socket.State == WebSocketState.CloseReceived)
                        {
                            await connection.CloseAsync((int?)socket.CloseStatus ?? CloseCodes.Normal, socket.CloseStatusDescription);
                        }

                        return;
                    }

                    count += result.Count;
                    if (count > maxMessageSize)
                    {
                        await connection.CloseAsync(CloseCodes.MessageTooBig, "message too big");
                        await DrainUntilClosedAsync(socket, buffer!, cancellationToken);
                        return;
                    }

                    if (!result.EndOfMessage)
                    {
                        if (count == buffer!.Length)
                        {
                            var larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, maxMessageSize + 1));
                            buffer.AsSpan(0, count).CopyTo(larger);
                            ArrayPool<byte>.Shared.Return(buffer);
                            buffer = larger;
                        }

                        continue;
                    }

                    connection.CountIn(count, 1);
                    // The pooled buffer is lent to the delivery for the call only; it comes back here once the call completes.
                    await backend.WriteAsync(buffer is null ? ReadOnlyMemory<byte>.Empty : buffer.AsMemory(0, count), result.MessageType == WebSocketMessageType.Text, cancellationToken);
                    count = 0;
                    if (buffer is not null)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = null;
                    }
                }
            }
            finally
            {
                if (buffer is not null)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }

        public bool TryClassifyReadFault(Exception fault, out int code, out string reason)
        {
            (code, reason) = fault switch
            {
                // Nothing here aborted it: the runtime did, because a pong did not come within the tenant's pong timeout.
                OperationCanceledException when pings && !connection.Aborted.IsCancellationRequested && connection.Socket.State == WebSocketState.Aborted
                    => (CloseCodes.PongTimeout, "pong timeout"),
                OperationCanceledException => (CloseCodes.ClientClosed, "aborted"),
                WebSocketException ex => (CloseCodes.ClientClosed, ex.WebSocketErrorCode.ToString()),
                IOException => (CloseCodes.ClientClosed, "client read failed"),
                _ => (0, ""),
            };
            return code != 0;
        }

        public void Dispose() => connection.Dispose();
    }

    /// <summary>After sending a close, reads (and discards) until the client answers with its close.</summary>
    private static async Task DrainUntilClosedAsync(WebSocket socket, byte[] buffer, CancellationToken cancellationToken)
    {
        while (socket.State == WebSocketState.CloseSent)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(), cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return;
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5001, Level = LogLevel.Debug, Message = "WebSocket for {Tenant} from {Remote} refused: {Reason}")]
        public static partial void Refused(ILogger logger, string tenant, IPAddress remote, RefusalReason reason);
    }
}
