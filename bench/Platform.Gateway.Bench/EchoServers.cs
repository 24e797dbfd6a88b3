using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace Platform.Gateway.Bench;

/// <summary>The backends and the baseline servers the gateway is compared with.</summary>
internal static class EchoServers
{
    /// <summary>A TCP echo backend: every byte read is written back, one task per connection.</summary>
    public static async Task RunTcpEchoAsync(int port, CancellationToken cancellationToken)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
        listener.Listen(4096);
        Console.WriteLine($"tcp echo listening on 127.0.0.1:{port}");
        while (!cancellationToken.IsCancellationRequested)
        {
            var socket = await listener.AcceptAsync(cancellationToken);
            socket.NoDelay = true;
            _ = EchoAsync(socket, cancellationToken);
        }
    }

    private static async Task EchoAsync(Socket socket, CancellationToken cancellationToken)
    {
        using (socket)
        {
            var buffer = new byte[16 * 1024];
            try
            {
                int read;
                while ((read = await socket.ReceiveAsync(buffer, cancellationToken)) > 0)
                {
                    await socket.SendAsync(buffer.AsMemory(0, read), cancellationToken);
                }
            }
            catch (SocketException)
            {
                // The peer reset the connection: the echo for it is over.
            }
            catch (OperationCanceledException)
            {
                // Shutting down.
            }
        }
    }

    /// <summary>
    /// The bare Kestrel WebSocket echo: the least an ASP.NET Core server does for a WebSocket (ws on
    /// <paramref name="port"/>, wss on <paramref name="tlsPort"/> with the given PFX), no tenant, no admission.
    /// </summary>
    public static async Task RunKestrelEchoAsync(int port, int tlsPort, string? pfxPath, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Loopback, port, l => l.Protocols = HttpProtocols.Http1);
            if (pfxPath is not null)
            {
                kestrel.Listen(IPAddress.Loopback, tlsPort, l =>
                {
                    l.Protocols = HttpProtocols.Http1;
                    l.UseHttps(pfxPath);
                });
            }
        });
        var app = builder.Build();
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.Zero });
        app.Run(async context =>
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                return;
            }

            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[4096];
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer, context.RequestAborted);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, context.RequestAborted);
                    return;
                }

                await socket.SendAsync(buffer.AsMemory(0, result.Count), result.MessageType, result.EndOfMessage, context.RequestAborted);
            }
        });
        Console.WriteLine($"kestrel echo listening on 127.0.0.1:{port}" + (pfxPath is null ? "" : $" and wss 127.0.0.1:{tlsPort}"));
        using var registration = cancellationToken.Register(app.Lifetime.StopApplication);
        await app.RunAsync();
    }

    /// <summary>
    /// A tenant webhook that echoes: it passes the validation handshake (<c>WebHook-Allowed-Origin: *</c>) and answers
    /// every <c>messages</c> event with a reply per message, to the same connection, with the same payload, so a
    /// WebSocket client of a <c>webhook</c> tenant sees an echo whose round trip goes through the webhook.
    /// </summary>
    public static async Task RunWebhookEchoAsync(int port, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Loopback, port, l => l.Protocols = HttpProtocols.Http1);
        });
        var app = builder.Build();
        app.Run(async context =>
        {
            if (HttpMethods.IsOptions(context.Request.Method))
            {
                context.Response.Headers["WebHook-Allowed-Origin"] = "*";
                return;
            }

            using var request = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
            if (!request.RootElement.TryGetProperty("messages", out var messages))
            {
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                return;
            }

            context.Response.ContentType = "application/json";
            await using var json = new Utf8JsonWriter(context.Response.Body);
            json.WriteStartObject();
            json.WriteStartArray("replies");
            foreach (var message in messages.EnumerateArray())
            {
                json.WriteStartObject();
                json.WriteString("connectionId", message.GetProperty("connectionId").GetString());
                if (message.TryGetProperty("text", out var text))
                {
                    json.WriteString("text", text.GetString());
                }
                else
                {
                    json.WriteString("data", message.GetProperty("data").GetString());
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        });
        Console.WriteLine($"webhook echo listening on 127.0.0.1:{port}");
        using var registration = cancellationToken.Register(app.Lifetime.StopApplication);
        await app.RunAsync();
    }
}
