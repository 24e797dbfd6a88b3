using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Platform.Contracts;
using Platform.Contracts.Connections;
using Platform.Testing;

namespace Platform.Benchmarks;

/// <summary>
/// A REST command to a client: a real gateway of the build, a real WebSocket client (<see cref="ClientWebSocket"/>)
/// connected to a tenant through it, and <c>POST /v1/tenants/{slug}/connections/{id}/messages</c> through the silo's
/// REST API, N times one after another; timed from the POST until the client holds the message (and, beside it, until
/// the POST's <c>202</c>).
/// </summary>
internal static class RestSendScenario
{
    private const string Slug = "send";
    private const int Warmup = 20;
    private static readonly TimeSpan ReceivedWithin = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ListedWithin = TimeSpan.FromSeconds(30);

    public static async Task RunAsync(BenchContext context, SiloProcess silo)
    {
        var count = context.Options.Count ?? 1000;
        await context.CreateTenantAsync(Slug);
        await using var gateway = await BenchGateways.StartAsync(context.Build, silo, "sender", context.Operator);

        using var client = new ClientWebSocket();
        using (var connect = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
        {
            await client.ConnectAsync(new Uri(string.Create(CultureInfo.InvariantCulture, $"ws://127.0.0.1:{gateway.WsPort}/t/{Slug}/")), connect.Token);
        }

        var connectionId = await ConnectionIdAsync(context);
        var received = Channel.CreateUnbounded<(string Text, long At)>();
        var reader = Task.Run(() => ReceiveAsync(client, received.Writer));

        var path = new Uri($"/v1/tenants/{Slug}/connections/{Uri.EscapeDataString(connectionId)}/messages", UriKind.Relative);
        var delivered = context.Recorder("POST .../connections/{id}/messages -> message at the WebSocket client (sequential)");
        var accepted = context.Recorder("POST .../connections/{id}/messages answered 202");
        var beforeAnswer = 0;
        var deadline = Stopwatch.GetTimestamp() + (long)(context.Options.TimeLimit.TotalSeconds * Stopwatch.Frequency);
        for (var i = -Warmup; i < count && Stopwatch.GetTimestamp() < deadline; i++)
        {
            if (i == 0)
            {
                delivered.Start();
                accepted.Start();
            }

            var text = string.Create(CultureInfo.InvariantCulture, $"bench-{i}");
            var started = Stopwatch.GetTimestamp();
            using (var response = await context.Operator.PostAsJsonAsync(path, new SendMessageRequest(Text: text), PlatformJson.Options))
            {
                var answered = Stopwatch.GetTimestamp();
                await BenchContext.EnsureAsync(response, HttpStatusCode.Accepted, "POST messages");
                var at = await ReceivedAsync(received.Reader, text);
                if (i >= 0)
                {
                    accepted.Add(Stopwatch.GetElapsedTime(started, answered));
                    delivered.Add(Stopwatch.GetElapsedTime(started, at));
                    beforeAnswer += at < answered ? 1 : 0;
                }
            }
        }

        delivered.Stop();
        accepted.Stop();
        Console.WriteLine(delivered.Summary("messages/s"));
        Console.WriteLine(accepted.Summary());
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {beforeAnswer} of {delivered.Count} messages reached the client before the 202 reached the harness"));
        if (delivered.Count < count)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  note: time limit {context.Options.TimeLimit.TotalSeconds:F0} s reached after {delivered.Count} of {count} sends"));
        }

        // The closing handshake: the reader sees the gateway's close and ends.
        using var close = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", close.Token);
        await reader.WaitAsync(close.Token);
    }

    /// <summary>The id of the one open connection of the tenant, once the gateway has reported it to the directory.</summary>
    private static async Task<string> ConnectionIdAsync(BenchContext context)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(ListedWithin.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            using var response = await context.Operator.GetAsync(new Uri($"/v1/tenants/{Slug}/connections", UriKind.Relative));
            await BenchContext.EnsureAsync(response, HttpStatusCode.OK, "GET connections");
            using var page = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            if (page.RootElement.GetProperty("items").EnumerateArray().FirstOrDefault() is { ValueKind: JsonValueKind.Object } item)
            {
                return item.GetProperty("id").GetString()!;
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new BenchmarkFailedException($"the WebSocket client's connection was not in the directory within {ListedWithin.TotalSeconds:F0} s");
            }

            await Task.Delay(100);
        }
    }

    private static async Task<long> ReceivedAsync(ChannelReader<(string Text, long At)> received, string text)
    {
        using var wait = new CancellationTokenSource(ReceivedWithin);
        try
        {
            var (got, at) = await received.ReadAsync(wait.Token);
            return got == text ? at : throw new BenchmarkFailedException($"the client received '{got}', expected '{text}'");
        }
        catch (OperationCanceledException) when (wait.IsCancellationRequested)
        {
            throw new BenchmarkFailedException($"the client did not receive '{text}' within {ReceivedWithin.TotalSeconds:F0} s");
        }
        catch (ChannelClosedException ex)
        {
            throw new BenchmarkFailedException($"the client's connection ended before it received '{text}': {ex.InnerException?.Message ?? ex.Message}");
        }
    }

    private static async Task ReceiveAsync(ClientWebSocket client, ChannelWriter<(string, long)> received)
    {
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var count = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await client.ReceiveAsync(buffer.AsMemory(count), CancellationToken.None);
                    count += result.Count;
                }
                while (!result.EndOfMessage && count < buffer.Length);

                var at = Stopwatch.GetTimestamp();
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    received.TryComplete(new WebSocketException($"closed by the gateway: {client.CloseStatus} {client.CloseStatusDescription}"));
                    return;
                }

                received.TryWrite((Encoding.UTF8.GetString(buffer, 0, count), at));
            }
        }
        catch (WebSocketException ex)
        {
            received.TryComplete(ex);
        }
    }
}
