using System.Net.WebSockets;
using System.Text;

namespace Platform.Gateway.Tests.Support;

/// <summary>Small helpers over <see cref="ClientWebSocket"/> with bounded waits.</summary>
internal static class WsClient
{
    public static async Task<ClientWebSocket> ConnectAsync(Uri uri, Action<ClientWebSocketOptions>? configure = null)
    {
        var socket = new ClientWebSocket();
        configure?.Invoke(socket.Options);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await socket.ConnectAsync(uri, timeout.Token);
        return socket;
    }

    public static async Task SendTextAsync(WebSocket socket, string text)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, timeout.Token);
    }

    public static async Task<(WebSocketMessageType Type, byte[] Payload)> ReceiveAsync(WebSocket socket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        var buffer = new byte[1 << 20];
        var count = 0;
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.AsMemory(count), timeout.Token);
            count += result.Count;
            if (result.MessageType == WebSocketMessageType.Close || result.EndOfMessage)
            {
                return (result.MessageType, buffer[..count]);
            }
        }
    }

    public static async Task<string> ReceiveTextAsync(WebSocket socket)
    {
        var (_, payload) = await ReceiveAsync(socket);
        return Encoding.UTF8.GetString(payload);
    }
}
