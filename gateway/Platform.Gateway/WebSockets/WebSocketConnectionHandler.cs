using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Platform.Contracts.Connections;
using Platform.Contracts.Problems;
using Platform.Gateway.Admission;
using Platform.Gateway.Hosting;
using Platform.Gateway.ProxyProtocol;
using Platform.Gateway.Tenants;
using Platform.Gateway.Tls;

namespace Platform.Gateway.WebSockets;

/// <summary>
/// The ws and wss listeners: reads one HTTP/1.1 request head straight from the connection's transport
/// (at most <see cref="UpgradeRequest.MaxHeadBytes"/>, within <see cref="GatewayOptions.RequestHeadersTimeoutSeconds"/>
/// of the connection's start) and hands it to <see cref="WebSocketHandler"/>. No HTTP server objects stay
/// alive under an upgraded connection: after the 101 only the transport and the WebSocket remain.
/// A connection that never speaks is closed silently when the time is up; a partial head gets 408, an
/// oversize one 431, a malformed one 400, each counted as a refusal.
/// </summary>
internal sealed class WebSocketConnectionHandler(
    WebSocketHandler handler,
    AdmissionController admission,
    ProxyProtocolGate proxy,
    IOptions<GatewayOptions> options,
    TimeProvider time) : ConnectionHandler
{
    private readonly TimeSpan _headTimeout = TimeSpan.FromSeconds(options.Value.RequestHeadersTimeoutSeconds);

    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        // The upgrade's duration runs from here (after TLS, on wss) to its 101.
        var started = time.GetTimestamp();
        var protocol = connection.Features.Get<ITlsHandshakeFeature>() is null ? ConnectionProtocols.Ws : ConnectionProtocols.Wss;
        var (request, answer) = await ReadHeadAsync(connection, protocol == ConnectionProtocols.Wss ? ProxyListener.Wss : ProxyListener.Ws);
        if (protocol == ConnectionProtocols.Wss)
        {
            // The tenant's half-open count on the wss port runs from the ClientHello to here.
            TlsSelector.OnUpgradeRequestRead(connection.Items);
        }

        if (request is not null)
        {
            try
            {
                await handler.HandleAsync(connection, protocol, request, started);
            }
            catch (OperationCanceledException) when (connection.ConnectionClosed.IsCancellationRequested)
            {
                // The client left during admission or before its answer was written; nothing is owed to it.
            }

            return;
        }

        if (answer != 0)
        {
            var tenant = protocol == ConnectionProtocols.Wss && connection.Items.TryGetValue(TlsSelector.TenantKey, out var chosen) && chosen is TenantRuntime byTls
                ? byTls.Slug
                : "";
            admission.CountRefusal(tenant, protocol, RefusalReason.BadRequest);
            await WriteAnswerAsync(connection.Transport.Output, answer, connection.ConnectionClosed);
        }
    }

    /// <summary>The parsed head, or the status to answer with (0: close without an answer).</summary>
    private async Task<(UpgradeRequest? Request, int Answer)> ReadHeadAsync(ConnectionContext connection, ProxyListener listener)
    {
        var input = connection.Transport.Input;
        using var timeout = new CancellationTokenSource(_headTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, connection.ConnectionClosed);
        var received = false;
        // Nothing is consumed until the head is complete, so each read's buffer starts where the last one did.
        var search = new HeadSearch();
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(linked.Token);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !connection.ConnectionClosed.IsCancellationRequested)
            {
                return (null, received ? StatusCodes.Status408RequestTimeout : 0);
            }
            catch (OperationCanceledException) when (connection.ConnectionClosed.IsCancellationRequested)
            {
                return (null, 0);
            }

            var buffer = result.Buffer;
            received |= !buffer.IsEmpty;
            switch (UpgradeRequest.TryParse(buffer, ref search, out var request, out var end))
            {
                case HeadStatus.Complete:
                    // Bytes after the head (frames a client sent without waiting for the 101) stay for the WebSocket.
                    input.AdvanceTo(end);
                    return (request, 0);
                case HeadStatus.TooLarge:
                    input.AdvanceTo(buffer.End);
                    return (null, StatusCodes.Status431RequestHeaderFieldsTooLarge);
                case HeadStatus.Malformed:
                    CountStrayProxyHeader(buffer, listener);
                    input.AdvanceTo(end);
                    return (null, StatusCodes.Status400BadRequest);
                default:
                    input.AdvanceTo(buffer.Start, buffer.End);
                    if (result.IsCompleted)
                    {
                        // The client closed before finishing its head.
                        return (null, 0);
                    }

                    break;
            }
        }
    }

    /// <summary>
    /// A PROXY header where the listener takes none (or a second one after the load balancer's) is a client's attempt
    /// to name its own address: answered as the malformed request it is, and counted as such too.
    /// </summary>
    private void CountStrayProxyHeader(ReadOnlySequence<byte> buffer, ProxyListener listener)
    {
        Span<byte> start = stackalloc byte[ProxyV2.Signature.Length];
        var length = (int)Math.Min(buffer.Length, start.Length);
        buffer.Slice(0, length).CopyTo(start);
        if (ProxyHeaderParser.LooksLikeHeader(start[..length]))
        {
            proxy.Metrics.Refused(listener, ProxyProtocolMetrics.UnmarkedListener);
        }
    }

    private static async ValueTask WriteAnswerAsync(PipeWriter output, int status, CancellationToken cancellationToken)
    {
        try
        {
            if (status == StatusCodes.Status400BadRequest)
            {
                await Problem.WriteAsync(output, RefusalReason.BadRequest, cancellationToken);
            }
            else
            {
                await Problem.WriteStatusAsync(output, status, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            // The client went away first.
        }
    }
}
