using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Gateway.Admission;
using Platform.Gateway.Tests.Support;
using Platform.Testing;

namespace Platform.Gateway.Tests.EndToEnd;

/// <summary>ws against a real silo and PostgreSQL, on real sockets.</summary>
public sealed class WebSocketEndToEndTests
{
    [Fact]
    public async Task Upgrade_FrameSentWithTheHead_IsServedAfterThe101()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");

        // A client that does not wait for the 101: its first frame arrives in the same packet as the request.
        using var raw = await RawWebSocket.ConnectAsync(gateway.WsEndPoint, "acme.platform.test", "/early?x=1",
            withHead: RawWebSocket.ClientFrame(0x1, "early"u8.ToArray()));
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(15));

        var echoed = await raw.ReadFrameAsync(limit.Token);

        Assert.Equal((0x1, "early"), (echoed!.Value.Opcode, Encoding.UTF8.GetString(echoed.Value.Payload)));
        var listed = await silo.WaitForConnectionAsync("acme", c => c.MessagesIn >= 1);
        Assert.Equal(("/early", "acme.platform.test"), (listed.WebSocket!.Path, listed.WebSocket.Host));
    }

    [Fact]
    public async Task Echo_TextAndBinary_ComeBackAndReachTheDirectory()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");

        using var client = await WsClient.ConnectAsync(gateway.WsUri("acme", "socket"));
        await WsClient.SendTextAsync(client, "hello");
        Assert.Equal("hello", await WsClient.ReceiveTextAsync(client));
        await client.SendAsync(new byte[] { 1, 2, 3 }, WebSocketMessageType.Binary, true, CancellationToken.None);
        var (type, payload) = await WsClient.ReceiveAsync(client);
        Assert.Equal(WebSocketMessageType.Binary, type);
        Assert.Equal([1, 2, 3], payload);

        var listed = await silo.WaitForConnectionAsync("acme", c => c.MessagesIn >= 2);
        Assert.Equal(ConnectionProtocols.Ws, listed.Protocol);
        Assert.Equal(gateway.NodeId, listed.GatewayId);
        Assert.StartsWith(gateway.NodeId + ".", listed.Id, StringComparison.Ordinal);
        Assert.Equal("/t/acme/socket", listed.WebSocket!.Path);
        Assert.Equal(2, listed.MessagesOut);
    }

    [Fact]
    public async Task Upgrade_UnknownTenant_404BeforeUpgrade()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");

        var (status, _, body) = await RawHttp.UpgradeAsync(gateway.WsEndPoint, "nobody.platform.test", "/");

        Assert.Equal(404, status);
        Assert.Contains("\"code\":\"unknown_tenant\"", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Upgrade_MissingKey_400AndHostHeaderRouting()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");

        var (status, _, body) = await RawHttp.UpgradeAsync(gateway.WsEndPoint, "acme.platform.test", "/", key: "");
        Assert.Equal(400, status);
        Assert.Contains("\"code\":\"bad_request\"", body, StringComparison.Ordinal);

        var (ok, head, _) = await RawHttp.UpgradeAsync(gateway.WsEndPoint, "acme.platform.test", "/");
        Assert.Equal(101, ok);
        Assert.Contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", head, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Access_BlockAndAllowFromSeveralSourceAddresses()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig
        {
            Access = new AccessConfig { AllowedClients = "127.0.0.0/29", BlockedClients = "127.0.0.3" },
        });
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");

        var allowed = await RawHttp.UpgradeAsync(gateway.WsEndPoint, "acme.platform.test", "/", IPAddress.Parse("127.0.0.2"));
        var blocked = await RawHttp.UpgradeAsync(gateway.WsEndPoint, "acme.platform.test", "/", IPAddress.Parse("127.0.0.3"));
        var outside = await RawHttp.UpgradeAsync(gateway.WsEndPoint, "acme.platform.test", "/", IPAddress.Parse("127.0.0.9"));

        Assert.Equal(101, allowed.Status);
        Assert.Equal(403, blocked.Status);
        Assert.Contains("\"code\":\"blocked\"", blocked.Body, StringComparison.Ordinal);
        Assert.Equal(403, outside.Status);
        Assert.Contains("\"code\":\"not_allowed\"", outside.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Forward_ToTcpEchoBackend_LengthPrefixFramingReachesBackendAndComesBack()
    {
        await using var backend = new TcpEchoBackend();
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig
        {
            Delivery = new DeliveryConfig
            {
                Mode = DeliveryModes.Forward,
                Forward = new ForwardConfig { Host = "127.0.0.1", Port = backend.Port, MessageFraming = MessageFramings.LengthPrefix, BackendMessageType = BackendMessageTypes.Binary },
            },
        });
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");

        using var client = await WsClient.ConnectAsync(gateway.WsUri("acme"));

        // The backend connection exists before the 101; the backend's accept loop may see it a moment later.
        await Wait.UntilAsync(() => backend.Accepted == 1, "the backend to accept the gateway's connection");
        await WsClient.SendTextAsync(client, "abc");
        var received = new List<byte>();
        while (received.Count < 7)
        {
            var (type, payload) = await WsClient.ReceiveAsync(client);
            Assert.Equal(WebSocketMessageType.Binary, type);
            received.AddRange(payload);
        }

        Assert.Equal(new byte[] { 0, 0, 0, 3, (byte)'a', (byte)'b', (byte)'c' }, received);
    }

    [Fact]
    public async Task Forward_UnreachableBackend_502WithProblem()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig
        {
            Delivery = new DeliveryConfig
            {
                Mode = DeliveryModes.Forward,
                Forward = new ForwardConfig { Host = "127.0.0.1", Port = FreePorts.Tcp(), ConnectTimeoutSeconds = 2 },
            },
        });
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");

        var (status, head, body) = await RawHttp.UpgradeAsync(gateway.WsEndPoint, "acme.platform.test", "/");

        Assert.Equal(502, status);
        Assert.Contains("application/problem+json", head, StringComparison.Ordinal);
        Assert.Contains("backend_unreachable", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RestCommands_SendAndDisconnect_ReachTheClientThroughTheSilo()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");
        await gateway.WaitRegisteredAsync();
        using var client = await WsClient.ConnectAsync(gateway.WsUri("acme"));
        var listed = await silo.WaitForConnectionAsync("acme", _ => true);

        using var send = await silo.Operator.PostAsJsonAsync(
            new Uri($"/v1/tenants/acme/connections/{listed.Id}/messages", UriKind.Relative), new SendMessageRequest(Text: "from rest"), PlatformJson.Options);
        Assert.True(send.IsSuccessStatusCode, await send.Content.ReadAsStringAsync());
        Assert.Equal("from rest", await WsClient.ReceiveTextAsync(client));

        using var disconnect = await silo.Operator.PostAsJsonAsync(
            new Uri($"/v1/tenants/acme/connections/{listed.Id}/disconnect", UriKind.Relative), new DisconnectRequest(4321, "bye"), PlatformJson.Options);
        Assert.True(disconnect.IsSuccessStatusCode, await disconnect.Content.ReadAsStringAsync());
        var (type, _) = await WsClient.ReceiveAsync(client);
        Assert.Equal(WebSocketMessageType.Close, type);
        Assert.Equal(4321, (int)client.CloseStatus!);
        Assert.Equal("bye", client.CloseStatusDescription);

        var closed = await silo.WaitForConnectionAsync("acme", c => c.Id == listed.Id, state: "closed");
        Assert.Equal(4321, closed.CloseCode);
    }

    [Fact]
    public async Task MaxConnections_TwoGateways_ExactlyEnforced()
    {
        await using var silo = await SiloFixture.StartAsync();
        var tenant = await silo.CreateTenantAsync("acme", new TenantConfig { Limits = new LimitsConfig { MaxConnections = 3 } });
        await using var a = await silo.StartGatewayAsync();
        await using var b = await silo.StartGatewayAsync();
        await a.WaitForSnapshotAsync(s => s.BySlug.ContainsKey("acme"));
        await b.WaitForSnapshotAsync(s => s.BySlug.ContainsKey("acme"));
        await a.WaitRegisteredAsync();
        await b.WaitRegisteredAsync();

        // Both gateways have made their first lease round when each holds its idle share.
        var leasesA = a.Services.GetRequiredService<LeaseManager>();
        var leasesB = b.Services.GetRequiredService<LeaseManager>();
        using (var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
        {
            while (leasesA.Get(tenant.Id).Held < 1 || leasesB.Get(tenant.Id).Held < 1)
            {
                await Task.Delay(20, limit.Token);
            }
        }

        var open = new List<ClientWebSocket>();
        var refused = new List<int>();
        for (var round = 0; round < 4; round++)
        {
            foreach (var gateway in new[] { a, b })
            {
                var socket = new ClientWebSocket();
                socket.Options.CollectHttpResponseDetails = true;
                try
                {
                    await socket.ConnectAsync(gateway.WsUri("acme"), CancellationToken.None);
                    open.Add(socket);
                }
                catch (WebSocketException)
                {
                    refused.Add((int)socket.HttpStatusCode);
                    socket.Dispose();
                }
            }
        }

        Assert.Equal(3, open.Count);
        Assert.Equal(3, a.Registry.Count + b.Registry.Count);
        Assert.Equal(5, refused.Count);
        Assert.All(refused, s => Assert.Equal(503, s));
        foreach (var socket in open)
        {
            socket.Dispose();
        }

    }
}
