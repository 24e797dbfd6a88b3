using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text.RegularExpressions;

namespace Platform.Gateway.Dtls.Bench;

/// <summary>
/// Bytes the gateway allocates per echoed message, for ws and for DTLS (echo delivery, closed loop, a few connections):
/// the gateway's own count of allocated bytes (the runtime's <c>GC.GetTotalAllocatedBytes</c>, as its Prometheus
/// scrape exports it) read before and after a run of messages, less what the gateway allocates in as long a time right
/// after with no traffic (timers, the silo link, the scrape itself).
/// </summary>
internal static partial class AllocBench
{
    private const int Payload = 64;

    public static async Task<int> RunAsync(IPEndPoint dtls, PskCredentials psk, Uri ws, Uri metrics, int messages, int connections)
    {
        using var http = new HttpClient();
        using var context = BenchDtlsClient.CreateContext("ECDHE-PSK-AES128-CBC-SHA256");
        var dtlsClients = new List<BenchDtlsClient>();
        var wsClients = new List<ClientWebSocket>();
        try
        {
            for (var i = 0; i < connections; i++)
            {
                var client = new BenchDtlsClient(dtls, GatewayBench.Source(12, i), context, null, psk);
                dtlsClients.Add(client);
                await client.HandshakeAsync(TimeSpan.FromSeconds(10));
                var socket = new ClientWebSocket();
                wsClients.Add(socket);
                await socket.ConnectAsync(ws, CancellationToken.None);
            }

            // Warm-up: first-use allocations (JIT, pools, per-connection state) stay out of the figures.
            await WsLoopsAsync(wsClients, messages / 10);
            await DtlsLoopsAsync(dtlsClients, messages / 10);

            // Each run is followed by an idle stretch as long as the run, measured the same way (two scrapes): what the gateway
            // allocates anyway in that time (timers, the silo link, the scrape itself) is taken off the run's count.
            var wsRun = await MeasureAsync(http, metrics, () => WsLoopsAsync(wsClients, messages));
            var wsIdle = await MeasureAsync(http, metrics, () => Task.Delay(TimeSpan.FromSeconds(wsRun.Seconds)));
            var dtlsRun = await MeasureAsync(http, metrics, () => DtlsLoopsAsync(dtlsClients, messages));
            var dtlsIdle = await MeasureAsync(http, metrics, () => Task.Delay(TimeSpan.FromSeconds(dtlsRun.Seconds)));
            Console.WriteLine($"Gateway bytes allocated per echoed message ({Payload}-byte messages, echo delivery, {connections} connections per protocol, {messages} messages each, closed loop):");
            Console.WriteLine("| protocol | messages | seconds | bytes allocated | same time idle | bytes per message |");
            Console.WriteLine("|---|---|---|---|---|---|");
            foreach (var (name, run, idle) in new[] { ("ws", wsRun, wsIdle), ("dtls", dtlsRun, dtlsIdle) })
            {
                Console.WriteLine($"| {name} | {messages} | {run.Seconds:F1} | {run.Bytes} | {idle.Bytes} | {(double)(run.Bytes - idle.Bytes) / messages:F0} |");
            }

            return 0;
        }
        finally
        {
            foreach (var client in dtlsClients)
            {
                client.Close();
                client.Dispose();
            }

            foreach (var socket in wsClients)
            {
                socket.Abort();
                socket.Dispose();
            }
        }
    }

    private static async Task<(long Bytes, double Seconds)> MeasureAsync(HttpClient http, Uri metrics, Func<Task> run)
    {
        var before = await AllocatedAsync(http, metrics);
        var wall = Stopwatch.StartNew();
        await run();
        wall.Stop();
        var after = await AllocatedAsync(http, metrics);
        return (after - before, wall.Elapsed.TotalSeconds);
    }

    private static async Task<long> AllocatedAsync(HttpClient http, Uri metrics)
    {
        var text = await http.GetStringAsync(metrics);
        var match = AllocatedLine().Match(text);
        if (!match.Success)
        {
            throw new InvalidOperationException("the gateway's scrape has no allocated-bytes counter");
        }

        return (long)double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static async Task WsLoopsAsync(List<ClientWebSocket> sockets, int messages)
    {
        var share = messages / sockets.Count;
        await Task.WhenAll(sockets.Select(socket => Task.Run(async () =>
        {
            var payload = new byte[Payload];
            var reply = new byte[Payload * 2];
            for (var i = 0; i < share; i++)
            {
                BitConverter.TryWriteBytes(payload, i);
                await socket.SendAsync(payload, WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);
                var count = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await socket.ReceiveAsync(reply.AsMemory(count), CancellationToken.None);
                    count += result.Count;
                }
                while (!result.EndOfMessage);
                if (count != Payload || !reply.AsSpan(0, Payload).SequenceEqual(payload))
                {
                    throw new IOException("the gateway echoed something else over ws");
                }
            }
        })));
    }

    private static async Task DtlsLoopsAsync(List<BenchDtlsClient> clients, int messages)
    {
        var share = messages / clients.Count;
        await Task.WhenAll(clients.Select(client => Task.Run(async () =>
        {
            var payload = new byte[Payload];
            var reply = new byte[2048];
            for (var i = 0; i < share; i++)
            {
                BitConverter.TryWriteBytes(payload, i);
                client.Send(payload);
                while (true)
                {
                    var length = await client.ReceiveAsync(reply, TimeSpan.FromSeconds(1));
                    if (length == 0)
                    {
                        throw new IOException("the gateway closed a DTLS echo session");
                    }

                    // A lost datagram is sent again: the figure is per echoed message.
                    if (length < 0)
                    {
                        client.Send(payload);
                        continue;
                    }

                    if (length == Payload && reply.AsSpan(0, Payload).SequenceEqual(payload))
                    {
                        break;
                    }
                }
            }
        })));
    }

    // The runtime instrumentation's counter of bytes allocated on the managed heap (GC.GetTotalAllocatedBytes).
    [GeneratedRegex(@"^(?:process_runtime_dotnet_gc_allocations_size_bytes_total|dotnet_gc_heap_total_allocated_bytes_total)(?:\{[^}]*\})?\s+([0-9.eE+]+)", RegexOptions.Multiline)]
    private static partial Regex AllocatedLine();
}
