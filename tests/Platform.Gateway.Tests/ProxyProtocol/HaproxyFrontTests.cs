using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Contracts.Tenants;
using Platform.Gateway.Tcp;
using Platform.Gateway.Tests.Support;
using Platform.Testing;
using static Platform.Gateway.Tests.Support.TlsTenantSetup;

namespace Platform.Gateway.Tests.ProxyProtocol;

/// <summary>
/// HAProxy from Debian in TCP mode in front of a real gateway whose listeners are marked as behind it: the client
/// connects to HAProxy from 127.0.0.2, HAProxy to the gateway from 127.0.0.3 with <c>send-proxy</c> or
/// <c>send-proxy-v2</c>, and everything on the gateway (the directory, access lists, a forward backend's PROXY header)
/// sees 127.0.0.2.
/// </summary>
public sealed class HaproxyFrontTests
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(20);
    private static readonly IPAddress Client = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress OtherClient = IPAddress.Parse("127.0.0.4");

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Ws_BehindHaproxy_DirectoryAccessListsAndForwardHeaderSeeTheCarriedClient(int version)
    {
        await using var backend = new ProxyV2Backend();
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig());
        // The client's address blocked: refused, although the balancer's is not.
        await silo.CreateTenantAsync("shut", new TenantConfig { Access = new AccessConfig { BlockedClients = "127.0.0.2" } });
        // The balancer's address blocked and only the client allowed: served.
        await silo.CreateTenantAsync("open", new TenantConfig { Access = new AccessConfig { AllowedClients = "127.0.0.2", BlockedClients = "127.0.0.3" } });
        await silo.CreateTenantAsync("fwd", new TenantConfig
        {
            Delivery = new DeliveryConfig
            {
                Mode = DeliveryModes.Forward,
                Forward = new ForwardConfig { Host = "127.0.0.1", Port = backend.Port, ProxyProtocol = ProxyProtocolVersions.V2 },
            },
        });
        await using var gateway = await silo.StartGatewayAsync(settings: Marked("Ws"));
        foreach (var slug in new[] { "acme", "shut", "open", "fwd" })
        {
            await gateway.WaitForTenantAsync(slug);
        }

        using var recorder = new ProxyProtocolRecorder(gateway);
        await using var haproxy = await HaproxyFront.StartAsync(gateway.Listeners.WsPort, version);

        using (var ws = await UpgradeAsync(haproxy.EndPoint, "acme.platform.test", Client))
        {
            Assert.Equal("hello through haproxy", await EchoTextAsync(ws, "hello through haproxy"));
            var listed = await silo.WaitForConnectionAsync("acme", c => c.Protocol == ConnectionProtocols.Ws);
            Assert.Equal("127.0.0.2", listed.RemoteAddress);
            Assert.Equal(((IPEndPoint)ws.LocalEndPoint!).Port, listed.RemotePort);
        }

        Assert.Equal(403, (await RawHttp.UpgradeAsync(haproxy.EndPoint, "shut.platform.test", "/", Client)).Status);
        Assert.Equal(101, (await RawHttp.UpgradeAsync(haproxy.EndPoint, "shut.platform.test", "/", OtherClient)).Status);
        Assert.Equal(101, (await RawHttp.UpgradeAsync(haproxy.EndPoint, "open.platform.test", "/", Client)).Status);
        Assert.Equal(403, (await RawHttp.UpgradeAsync(haproxy.EndPoint, "open.platform.test", "/", OtherClient)).Status);

        using (var ws = await UpgradeAsync(haproxy.EndPoint, "fwd.platform.test", Client))
        {
            var header = await backend.NextHeaderAsync();
            Assert.Equal(new IPEndPoint(Client, ((IPEndPoint)ws.LocalEndPoint!).Port), header.Source);
        }

        Assert.True(recorder.Accepted("ws", version) >= 6, recorder.Describe());
        Assert.Equal(0, recorder.Refused("ws", "untrusted_source"));
        var metrics = new Uri($"http://127.0.0.1:{gateway.Listeners.AdminPort.ToString(CultureInfo.InvariantCulture)}/metrics");
        var versionLabel = version.ToString(CultureInfo.InvariantCulture);
        var scrape = await PrometheusScrape.WaitAsync(metrics, s => s.Find("platform_gateway_proxy_protocol_accepted_total", ("listener", "ws"), ("version", versionLabel)).Any(v => v.Value >= 6));
        Assert.Equal("counter", scrape.Types["platform_gateway_proxy_protocol_accepted_total"]);
    }

    [Fact]
    public async Task TlsWssAndDedicatedPorts_BehindHaproxy_DirectoryShowsTheCarriedClient()
    {
        var range = FreePorts.Range(2);
        await using var silo = await SiloFixture.StartAsync(SiloPortRange(range));
        await silo.CreateTenantAsync("acme", new TenantConfig { Access = new AccessConfig { BlockedClients = "127.0.0.3" } });
        await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        var tcpPort = (await AllocatePortAsync(silo, "acme", DedicatedPortProtocols.Tcp)).Port;
        var tlsPort = (await AllocatePortAsync(silo, "acme", DedicatedPortProtocols.Tls)).Port;
        var settings = GatewayPortRange(range);
        foreach (var (key, value) in Marked("Tls").Concat(Marked("Wss")).Concat(Marked("Dedicated")))
        {
            settings[key] = value;
        }

        await using var gateway = await silo.StartGatewayAsync(settings: settings);
        await WaitForCertificatesAsync(gateway, "acme", 1);
        var listeners = (DedicatedPortListeners)gateway.Services.GetService(typeof(DedicatedPortListeners))!;
        await Wait.UntilAsync(() => listeners.OpenPorts.Contains(tcpPort) && listeners.OpenPorts.Contains(tlsPort), "the dedicated listeners");
        using var recorder = new ProxyProtocolRecorder(gateway);

        // The SNI-routed TLS port, v2: HAProxy passes the TLS bytes through after its header.
        await using (var sniFront = await HaproxyFront.StartAsync(gateway.Listeners.TlsPort, 2))
        await using (var tls = await TlsClient.ConnectAsync(sniFront.EndPoint, "acme.platform.test", source: Client))
        {
            Assert.Equal("sni\n", await tls.EchoAsync("sni\n"));
            var listed = await silo.WaitForConnectionAsync("acme", c => c.LocalPort == gateway.Listeners.TlsPort);
            Assert.Equal(("127.0.0.2", tls.LocalEndPoint.Port), (listed.RemoteAddress, listed.RemotePort));
        }

        // The wss port, v1: TLS, then the upgrade, from the carried client.
        await using (var wssFront = await HaproxyFront.StartAsync(gateway.Listeners.WssPort, 1))
        await using (var wss = await TlsClient.ConnectAsync(wssFront.EndPoint, "acme.platform.test", source: Client))
        {
            await wss.WriteAsync($"GET / HTTP/1.1\r\nHost: acme.platform.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {RawHttp.ValidKey}\r\nSec-WebSocket-Version: 13\r\n\r\n");
            var head = new List<byte>();
            var one = new byte[1];
            using var limit = new CancellationTokenSource(WaitLimit);
            while (!head.ToArray().AsSpan().EndsWith("\r\n\r\n"u8))
            {
                await wss.Stream.ReadExactlyAsync(one, limit.Token);
                head.Add(one[0]);
            }

            Assert.StartsWith("HTTP/1.1 101", Encoding.ASCII.GetString(head.ToArray()), StringComparison.Ordinal);
            var listed = await silo.WaitForConnectionAsync("acme", c => c.LocalPort == gateway.Listeners.WssPort);
            Assert.Equal(("127.0.0.2", wss.LocalEndPoint.Port), (listed.RemoteAddress, listed.RemotePort));
        }

        // A dedicated TLS port, v1.
        await using (var tlsFront = await HaproxyFront.StartAsync(tlsPort, 1))
        await using (var tls = await TlsClient.ConnectAsync(tlsFront.EndPoint, "acme.platform.test", source: Client))
        {
            Assert.Equal("dedicated tls\n", await tls.EchoAsync("dedicated tls\n"));
            var listed = await silo.WaitForConnectionAsync("acme", c => c.LocalPort == tlsPort);
            Assert.Equal(("127.0.0.2", tls.LocalEndPoint.Port), (listed.RemoteAddress, listed.RemotePort));
        }

        // A dedicated plain TCP port, v2: the client's first bytes may travel in the same segment as the header.
        await using (var tcpFront = await HaproxyFront.StartAsync(tcpPort, 2))
        using (var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            using var limit = new CancellationTokenSource(WaitLimit);
            tcp.Bind(new IPEndPoint(Client, 0));
            await tcp.ConnectAsync(tcpFront.EndPoint, limit.Token);
            await tcp.SendAsync("plain tcp\n"u8.ToArray(), SocketFlags.None, limit.Token);
            var echoed = new byte[10];
            await new NetworkStream(tcp).ReadExactlyAsync(echoed, limit.Token);
            Assert.Equal("plain tcp\n", Encoding.ASCII.GetString(echoed));
            var listed = await silo.WaitForConnectionAsync("acme", c => c.LocalPort == tcpPort);
            Assert.Equal(("127.0.0.2", ((IPEndPoint)tcp.LocalEndPoint!).Port), (listed.RemoteAddress, listed.RemotePort));
        }

        Assert.True(recorder.Accepted("tls", 2) >= 1, recorder.Describe());
        Assert.True(recorder.Accepted("wss", 1) >= 1, recorder.Describe());
        Assert.True(recorder.Accepted("dedicated", 1) >= 1, recorder.Describe());
        Assert.True(recorder.Accepted("dedicated", 2) >= 1, recorder.Describe());
    }

    /// <summary>Gateway settings marking <paramref name="listener"/> as behind HAProxy at 127.0.0.3.</summary>
    internal static Dictionary<string, string?> Marked(string listener) => new()
    {
        [$"Platform:ProxyProtocol:{listener}:Mode"] = "required",
        [$"Platform:ProxyProtocol:{listener}:TrustedNetworks:0"] = "127.0.0.3/32",
    };

    /// <summary>A WebSocket upgrade from <paramref name="source"/>, read up to its 101; the socket stays open.</summary>
    internal static async Task<Socket> UpgradeAsync(IPEndPoint endPoint, string host, IPAddress source, byte[]? before = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var limit = new CancellationTokenSource(WaitLimit);
        socket.Bind(new IPEndPoint(source, 0));
        await socket.ConnectAsync(endPoint, limit.Token);
        var request = Encoding.ASCII.GetBytes(
            $"GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {RawHttp.ValidKey}\r\nSec-WebSocket-Version: 13\r\n\r\n");
        await socket.SendAsync(before is null ? request : [.. before, .. request], SocketFlags.None, limit.Token);
        var head = new List<byte>();
        var one = new byte[1];
        while (!head.ToArray().AsSpan().EndsWith("\r\n\r\n"u8))
        {
            Assert.Equal(1, await socket.ReceiveAsync(one, SocketFlags.None, limit.Token));
            head.Add(one[0]);
        }

        var text = Encoding.ASCII.GetString(head.ToArray());
        Assert.True(text.StartsWith("HTTP/1.1 101", StringComparison.Ordinal), text);
        return socket;
    }

    /// <summary>Sends a short text message and reads the one that comes back (an echo tenant).</summary>
    internal static async Task<string> EchoTextAsync(Socket socket, string text)
    {
        using var limit = new CancellationTokenSource(WaitLimit);
        await socket.SendAsync(RawWebSocket.ClientFrame(1, Encoding.UTF8.GetBytes(text)), SocketFlags.None, limit.Token);
        var head = new byte[2];
        await ReadExactlyAsync(socket, head, limit.Token);
        Assert.Equal(0x81, head[0]);
        var payload = new byte[head[1] & 0x7F];
        await ReadExactlyAsync(socket, payload, limit.Token);
        return Encoding.UTF8.GetString(payload);
    }

    private static async Task ReadExactlyAsync(Socket socket, byte[] buffer, CancellationToken cancellationToken)
    {
        for (var read = 0; read < buffer.Length;)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, cancellationToken);
            Assert.True(n > 0, "the connection closed early");
            read += n;
        }
    }
}
