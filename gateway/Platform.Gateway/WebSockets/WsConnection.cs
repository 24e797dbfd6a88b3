using System.Net;
using System.Net.WebSockets;
using Platform.Gateway.Connections;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.WebSockets;

/// <summary>A WebSocket client connection. Sends are serialized (a WebSocket allows one send at a time).</summary>
internal sealed class WsConnection(string id, TenantRuntime tenant, string protocol, IPEndPoint remote, int localPort, TimeProvider time, WebSocket socket)
    : GatewayConnection(id, tenant, protocol, remote, localPort, time), IDisposable
{
    private static readonly TimeSpan CloseGrace = TimeSpan.FromSeconds(5);
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _aborted = new();
    private int _closing;

    public WebSocket Socket => socket;

    /// <summary>Fires when the connection is aborted (close handshake not finished in time, or a hard close).</summary>
    public CancellationToken Aborted => _aborted.Token;

    public override async ValueTask SendAsync(ReadOnlyMemory<byte> payload, bool text, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken);
        BeginSend();
        try
        {
            await socket.SendAsync(payload, text ? WebSocketMessageType.Text : WebSocketMessageType.Binary, endOfMessage: true, cancellationToken);
        }
        finally
        {
            EndSend();
            _sendLock.Release();
        }

        CountOut(payload.Length, 1);
    }

    public override void Close(int code, string? reason)
    {
        RecordClose(code, reason);
        _ = CloseAsync(code, reason);
    }

    /// <summary>Sends a close frame; aborts if the client has not completed the close handshake within the grace period.</summary>
    public override async Task CloseAsync(int code, string? reason)
    {
        RecordClose(code, reason);

        // Only the first close starts the grace period: a repeated close (the monitor ticks every second
        // while a drain deadline or an idle timeout holds) must not push the abort back for ever.
        if (Interlocked.Exchange(ref _closing, 1) != 0)
        {
            return;
        }

        try
        {
            _aborted.CancelAfter(CloseGrace);
            await _sendLock.WaitAsync(_aborted.Token);
            try
            {
                if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                {
                    await socket.CloseOutputAsync((WebSocketCloseStatus)code, reason, _aborted.Token);
                }
            }
            finally
            {
                _sendLock.Release();
            }
        }
        catch (OperationCanceledException)
        {
            socket.Abort();
        }
        catch (WebSocketException)
        {
            socket.Abort();
        }
        catch (ObjectDisposedException)
        {
            // The connection finished while the close was queued.
        }
    }

    public override void Abort(int code, string? reason)
    {
        RecordClose(code, reason);
        Abort();
    }

    public void Abort()
    {
        try
        {
            _aborted.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The connection already finished.
        }

        socket.Abort();
    }

    public void Dispose()
    {
        _aborted.Dispose();
        _sendLock.Dispose();
        socket.Dispose();
    }
}
