using System.Globalization;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Platform.Contracts.Config;
using Platform.Gateway.Tests.Support;

namespace Platform.Gateway.Tests.EndToEnd;

/// <summary>Misbehaving clients on the ws port: each gets the right refusal or timeout, and nobody else notices.</summary>
public sealed class BadInputTests
{
    [Fact]
    public async Task Upgrade_OversizeHeaders_431()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");

        var (status, _, _) = await RawHttp.UpgradeAsync(gateway.WsEndPoint, "acme.platform.test", "/", extraHeaders: $"X-Filler: {new string('a', 20_000)}\r\n");

        Assert.Equal(431, status);
    }

    [Fact]
    public async Task Upgrade_HeadTrickledAByteAtATime_101WithinTheLimitAnd431Beyond()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");
        var request = "GET /t/acme/ HTTP/1.1\r\nHost: acme.platform.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            $"Sec-WebSocket-Key: {RawHttp.ValidKey}\r\nSec-WebSocket-Version: 13\r\nX-Filler: {{0}}\r\n\r\n";

        Assert.StartsWith("HTTP/1.1 101", await TrickleAsync(gateway, string.Format(CultureInfo.InvariantCulture, request, new string('a', 8 * 1024))), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 431", await TrickleAsync(gateway, string.Format(CultureInfo.InvariantCulture, request, new string('a', 17 * 1024))), StringComparison.Ordinal);
    }

    /// <summary>Sends the request one byte per write (Nagle off) until the gateway answers; returns the answer's first line.</summary>
    private static async Task<string> TrickleAsync(TestGateway gateway, string request)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await socket.ConnectAsync(gateway.WsEndPoint, limit.Token);
        var answer = new byte[12];
        var answered = socket.ReceiveAsync(answer, SocketFlags.None, limit.Token).AsTask();
        var bytes = Encoding.ASCII.GetBytes(request);
        try
        {
            for (var i = 0; i < bytes.Length && !answered.IsCompleted; i++)
            {
                await socket.SendAsync(bytes.AsMemory(i, 1), SocketFlags.None, limit.Token);
            }
        }
        catch (SocketException)
        {
            // The gateway answered and closed while bytes were still on their way; the answer is what counts.
        }

        var read = await answered;
        return Encoding.ASCII.GetString(answer, 0, read);
    }

    [Fact]
    public async Task Upgrade_WrongWebSocketVersion_426NamingVersion13()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");

        var (status, head, body) = await RawHttp.SendAsync(gateway.WsEndPoint,
            "GET / HTTP/1.1\r\nHost: acme.platform.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            $"Sec-WebSocket-Key: {RawHttp.ValidKey}\r\nSec-WebSocket-Version: 8\r\n\r\n");

        Assert.Equal(426, status);
        Assert.Contains("Sec-WebSocket-Version: 13", head, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("\"code\":\"bad_request\"", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Upgrade_DisallowedOrigin_403AllowedOrigin101()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig
        {
            WebSocket = new WebSocketConfig { AllowedOrigins = ["https://app.example.com", "https://*.trusted.example"] },
        });
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");

        var evil = await RawHttp.UpgradeAsync(gateway.WsEndPoint, "acme.platform.test", "/", extraHeaders: "Origin: https://evil.example.com\r\n");
        var exact = await RawHttp.UpgradeAsync(gateway.WsEndPoint, "acme.platform.test", "/", extraHeaders: "Origin: https://app.example.com\r\n");
        var wildcard = await RawHttp.UpgradeAsync(gateway.WsEndPoint, "acme.platform.test", "/", extraHeaders: "Origin: https://eu.trusted.example\r\n");

        Assert.Equal(403, evil.Status);
        Assert.Contains("origin_not_allowed", evil.Body, StringComparison.Ordinal);
        Assert.Equal(101, exact.Status);
        Assert.Equal(101, wildcard.Status);
    }

    [Fact]
    public async Task Message_OverMaxSize_Closed1009AndRecorded()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig { WebSocket = new WebSocketConfig { MaxMessageSize = 1024 } });
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");
        using var client = await WsClient.ConnectAsync(gateway.WsUri("acme", "big"));
        await client.SendAsync(new byte[1024], WebSocketMessageType.Binary, true, CancellationToken.None);
        Assert.Equal(1024, (await WsClient.ReceiveAsync(client)).Payload.Length);

        await client.SendAsync(new byte[4096], WebSocketMessageType.Binary, true, CancellationToken.None);

        var (type, _) = await WsClient.ReceiveAsync(client);
        Assert.Equal(WebSocketMessageType.Close, type);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, client.CloseStatus);
        var closed = await silo.WaitForConnectionAsync("acme", c => c.WebSocket?.Path == "/t/acme/big", state: "closed");
        Assert.Equal(1009, closed.CloseCode);
    }

    [Fact]
    public async Task HalfOpen_NeverSendsOrStopsMidHead_ClosedByTheHeaderTimeout()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await using var gateway = await silo.StartGatewayAsync(settings: new Dictionary<string, string?> { ["Platform:RequestHeadersTimeoutSeconds"] = "1" });
        await gateway.WaitForTenantAsync("acme");
        using var silent = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var partial = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await silent.ConnectAsync(gateway.WsEndPoint);
        await partial.ConnectAsync(gateway.WsEndPoint);
        await partial.SendAsync(Encoding.ASCII.GetBytes("GET /t/acme/ HTTP/1.1\r\nHost: acme.platform.test\r\nUpgrade: web"), SocketFlags.None);

        var silentAnswer = await ReadToEndAsync(silent);
        var partialAnswer = await ReadToEndAsync(partial);

        Assert.Equal("", silentAnswer);
        Assert.StartsWith("HTTP/1.1 408", partialAnswer, StringComparison.Ordinal);

        // The listener still serves.
        using var client = await WsClient.ConnectAsync(gateway.WsUri("acme"));
        await WsClient.SendTextAsync(client, "fine");
        Assert.Equal("fine", await WsClient.ReceiveTextAsync(client));
    }

    [Fact]
    public async Task SlowReader_ForwardBackendFloods_AbortedWithBoundedBufferingOtherTenantUnaffected()
    {
        await using var flood = new FloodBackend();
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("flood", new TenantConfig
        {
            Delivery = new DeliveryConfig { Mode = DeliveryModes.Forward, Forward = new ForwardConfig { Host = "127.0.0.1", Port = flood.Port } },
            WebSocket = new WebSocketConfig { PingIntervalSeconds = 0 },
        });
        await silo.CreateTenantAsync("calm");
        await using var gateway = await silo.StartGatewayAsync(settings: new Dictionary<string, string?> { ["Platform:ClientSendTimeoutSeconds"] = "2" });
        await gateway.WaitForTenantAsync("flood");
        await gateway.WaitForTenantAsync("calm");
        using var calm = await WsClient.ConnectAsync(gateway.WsUri("calm"));

        // Upgrades, then never reads again.
        using var stalled = await RawWebSocket.ConnectAsync(gateway.WsEndPoint, "flood.platform.test", "/stalled", receiveBuffer: 4096);
        await Wait.UntilAsync(() => flood.Written > 0, "the backend to start flooding");
        await WsClient.SendTextAsync(calm, "during the flood");
        Assert.Equal("during the flood", await WsClient.ReceiveTextAsync(calm));

        await flood.Ended.WaitAsync(TimeSpan.FromSeconds(20));

        // Without backpressure the gateway would have taken gigabytes by now; socket buffers and the pipe
        // are all that may be held.
        Assert.True(flood.Written < 64L * 1024 * 1024, $"The backend wrote {flood.Written} bytes towards a client that reads nothing.");
        var closed = await silo.WaitForConnectionAsync("flood", c => c.WebSocket?.Path == "/stalled", state: "closed");
        Assert.Equal(4005, closed.CloseCode);
        await WsClient.SendTextAsync(calm, "after the flood");
        Assert.Equal("after the flood", await WsClient.ReceiveTextAsync(calm));
    }

    private static async Task<string> ReadToEndAsync(Socket socket)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var received = new List<byte>();
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token);
                if (read == 0)
                {
                    break;
                }

                received.AddRange(buffer.AsSpan(0, read).ToArray());
            }
        }
        catch (SocketException)
        {
            // Reset after the answer: the end as well.
        }

        return Encoding.ASCII.GetString(received.ToArray());
    }
}
