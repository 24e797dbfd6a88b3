using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Platform.Contracts.Config;
using Platform.Contracts.Tenants;
using Platform.Gateway.Tcp;
using Platform.Gateway.Tests.Support;
using Platform.Testing;
using static Platform.Gateway.Tests.ProxyProtocol.ProxyHeaderParserTests;
using static Platform.Gateway.Tests.Support.TlsTenantSetup;

namespace Platform.Gateway.Tests.ProxyProtocol;

/// <summary>
/// Raw sockets against a real gateway whose SNI-routed TLS port and dedicated ports are marked as behind a load balancer
/// at 127.0.0.3 (and whose ws and wss ports are not): every bad or missing header closes the connection before a byte is
/// answered and is counted by reason; a good one names the client for the directory.
/// </summary>
public sealed class ProxyProtocolGateTests
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(20);
    private static readonly IPAddress Balancer = IPAddress.Parse("127.0.0.3");

    [Fact]
    public async Task AcceptAsync_MarkedListeners_BadHeadersClosedAndCountedGoodOnesNameTheClient()
    {
        var range = FreePorts.Range(1);
        await using var silo = await SiloFixture.StartAsync(SiloPortRange(range));
        await silo.CreateTenantAsync("acme", new TenantConfig());
        var thumbprint = (await UploadServerCertificateAsync(silo, "acme", "acme.platform.test")).Thumbprint;
        var tcpPort = (await AllocatePortAsync(silo, "acme", DedicatedPortProtocols.Tcp)).Port;
        var settings = GatewayPortRange(range);
        foreach (var (key, value) in HaproxyFrontTests.Marked("Tls").Concat(HaproxyFrontTests.Marked("Dedicated")))
        {
            settings[key] = value;
        }

        settings["Platform:ProxyProtocol:HeaderTimeoutSeconds"] = "1";
        await using var gateway = await silo.StartGatewayAsync(settings: settings);
        await WaitForCertificatesAsync(gateway, "acme", 1);
        var listeners = (DedicatedPortListeners)gateway.Services.GetService(typeof(DedicatedPortListeners))!;
        await Wait.UntilAsync(() => listeners.OpenPorts.Contains(tcpPort), "the dedicated listener");
        using var recorder = new ProxyProtocolRecorder(gateway);
        var tls = gateway.TlsEndPoint;
        var dedicated = new IPEndPoint(IPAddress.Loopback, tcpPort);

        // Broken in the text form, in the binary form, and in a TLV.
        await AssertClosedAsync(tls, Balancer, "PROXY TCP4 nonsense\r\n"u8.ToArray());
        await AssertClosedAsync(tls, Balancer, V2(0x21, 0x11, Ipv4Block("198.51.100.7", 40000, "127.0.0.1", 443), [0x02, 0x00, 0x05, 0x61]));
        await AssertClosedAsync(dedicated, Balancer, "PROXY TCP4 198.51.100.7 127.0.0.1 40000 0443\r\nhello\n"u8.ToArray());
        await recorder.WaitRefusedAsync("tls", "malformed", 2);
        await recorder.WaitRefusedAsync("dedicated", "malformed", 1);

        // Cut short: the balancer closed its sending side half way.
        await AssertClosedAsync(tls, Balancer, V2(0x21, 0x11, Ipv4Block("198.51.100.7", 40000, "127.0.0.1", 443))[..20], shutdown: true);
        await AssertClosedAsync(dedicated, Balancer, "PROXY TCP4 198.51"u8.ToArray(), shutdown: true);
        await recorder.WaitRefusedAsync("tls", "truncated", 1);
        await recorder.WaitRefusedAsync("dedicated", "truncated", 1);

        // Longer than the gateway reads: a v1 line without its CRLF, a v2 length field past the budget (decided from 16 bytes).
        await AssertClosedAsync(tls, Balancer, Encoding.ASCII.GetBytes("PROXY UNKNOWN " + new string('x', 200)));
        var huge = V2(0x21, 0x11)[..16];
        huge[14] = 0xFF;
        huge[15] = 0xFF;
        await AssertClosedAsync(dedicated, Balancer, huge);
        await recorder.WaitRefusedAsync("tls", "oversized", 1);
        await recorder.WaitRefusedAsync("dedicated", "oversized", 1);

        // A UDP header on a stream listener.
        await AssertClosedAsync(tls, Balancer, V2(0x21, 0x12, Ipv4Block("198.51.100.7", 40000, "127.0.0.1", 443)));
        await recorder.WaitRefusedAsync("tls", "unsupported", 1);

        // Slow: a start, then nothing; closed once HeaderTimeoutSeconds has passed.
        await AssertClosedAsync(tls, Balancer, "PROXY TCP4 198."u8.ToArray());
        await AssertClosedAsync(dedicated, Balancer, []);
        await recorder.WaitRefusedAsync("tls", "timeout", 1);
        await recorder.WaitRefusedAsync("dedicated", "timeout", 1);

        // A well-formed header from outside the trusted networks: refused before it is read.
        await AssertClosedAsync(tls, IPAddress.Loopback, "PROXY TCP4 198.51.100.7 127.0.0.1 40000 443\r\n"u8.ToArray());
        await AssertClosedAsync(dedicated, IPAddress.Parse("127.0.0.5"), "PROXY TCP4 198.51.100.7 127.0.0.1 40000 443\r\nhello\n"u8.ToArray());
        await recorder.WaitRefusedAsync("tls", "untrusted_source", 1);
        await recorder.WaitRefusedAsync("dedicated", "untrusted_source", 1);

        // A flood of such connections: each closed at accept, each counted, and the listener still serves (below).
        var flood = IPAddress.Parse("127.0.0.6");
        await Task.WhenAll(Enumerable.Range(0, 100).Select(i => AssertClosedAsync(tls, flood, "PROXY TCP4 198.51.100.9 127.0.0.1 40000 443\r\n"u8.ToArray())));
        await recorder.WaitRefusedAsync("tls", "untrusted_source", 101);
        Assert.Empty(await Wait.ListAsync(silo, "acme"));

        // Good headers: a TLS handshake after a v2 header; a v1 header and the client's first bytes in one segment.
        using (var socket = await ConnectAsync(tls, Balancer))
        {
            using var limit = new CancellationTokenSource(WaitLimit);
            await socket.SendAsync(V2(0x21, 0x11, Ipv4Block("198.51.100.7", 40000, "127.0.0.1", 443), [0xE0, 0x00, 0x01, 0x78]), SocketFlags.None, limit.Token);
            await using var ssl = new SslStream(new NetworkStream(socket), leaveInnerStreamOpen: false, (_, certificate, _, _) => certificate is not null && TestCertificates.Thumbprint(certificate.GetRawCertData()) == thumbprint);
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "acme.platform.test" }, limit.Token);
            await ssl.WriteAsync("over tls\n"u8.ToArray(), limit.Token);
            var echoed = new byte[9];
            await ssl.ReadExactlyAsync(echoed, limit.Token);
            Assert.Equal("over tls\n", Encoding.ASCII.GetString(echoed));
            var listed = await silo.WaitForConnectionAsync("acme", c => c.LocalPort == gateway.Listeners.TlsPort);
            Assert.Equal(("198.51.100.7", 40000), (listed.RemoteAddress, listed.RemotePort));
        }

        using (var socket = await ConnectAsync(dedicated, Balancer))
        {
            using var limit = new CancellationTokenSource(WaitLimit);
            await socket.SendAsync("PROXY TCP6 2001:db8::7 ::1 40001 443\r\nsame segment\n"u8.ToArray(), SocketFlags.None, limit.Token);
            var echoed = new byte[13];
            await new NetworkStream(socket).ReadExactlyAsync(echoed, limit.Token);
            Assert.Equal("same segment\n", Encoding.ASCII.GetString(echoed));
            var listed = await silo.WaitForConnectionAsync("acme", c => c.LocalPort == tcpPort);
            Assert.Equal(("2001:db8::7", 40001), (listed.RemoteAddress, listed.RemotePort));
        }

        Assert.Equal(1, recorder.Accepted("tls", 2));
        Assert.Equal(1, recorder.Accepted("dedicated", 1));
        var metrics = new Uri($"http://127.0.0.1:{gateway.Listeners.AdminPort.ToString(CultureInfo.InvariantCulture)}/metrics");
        var scrape = await PrometheusScrape.WaitAsync(metrics, s => s.Find("platform_gateway_proxy_protocol_refused_total", ("listener", "tls"), ("reason", "malformed")).Any());
        Assert.Equal(2, scrape.Value("platform_gateway_proxy_protocol_refused_total", ("listener", "tls"), ("reason", "malformed")));
        Assert.Equal(1, scrape.Value("platform_gateway_proxy_protocol_refused_total", ("listener", "dedicated"), ("reason", "timeout")));
        Assert.Equal(1, scrape.Value("platform_gateway_proxy_protocol_accepted_total", ("listener", "dedicated"), ("version", "1")));
    }

    [Fact]
    public async Task UnmarkedListeners_ProxyHeader_RefusedAsBadInputAndCounted()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig());
        var thumbprint = (await UploadServerCertificateAsync(silo, "acme", "acme.platform.test")).Thumbprint;
        await using var gateway = await silo.StartGatewayAsync();
        await WaitForCertificatesAsync(gateway, "acme", 1);
        using var recorder = new ProxyProtocolRecorder(gateway);
        using var refusals = new RefusalRecorder(gateway);

        // ws: a client naming its own address gets 400, whichever version it tries, even from a "balancer" address.
        var request = $"GET / HTTP/1.1\r\nHost: acme.platform.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {RawHttp.ValidKey}\r\nSec-WebSocket-Version: 13\r\n\r\n";
        var v1 = await RawHttp.SendAsync(gateway.WsEndPoint, "PROXY TCP4 198.51.100.7 127.0.0.1 40000 80\r\n" + request, Balancer);
        Assert.Equal(400, v1.Status);
        var v2Header = V2(0x21, 0x11, Ipv4Block("198.51.100.7", 40000, "127.0.0.1", 80));
        var v2 = await RawHttp.SendAsync(gateway.WsEndPoint, Encoding.Latin1.GetString(v2Header) + request, Balancer);
        Assert.Equal(400, v2.Status);
        await recorder.WaitRefusedAsync("ws", "unmarked_listener", 2);
        await refusals.WaitForAsync("", "bad_request", 2);

        // TLS (the wss port alike): the header is not a ClientHello; the handshake fails and is counted.
        using (var socket = await ConnectAsync(gateway.TlsEndPoint, Balancer))
        {
            using var limit = new CancellationTokenSource(WaitLimit);
            await socket.SendAsync("PROXY TCP4 198.51.100.7 127.0.0.1 40000 443\r\n"u8.ToArray(), SocketFlags.None, limit.Token);
            await using var ssl = new SslStream(new NetworkStream(socket), leaveInnerStreamOpen: false, (_, certificate, _, _) => certificate is not null && TestCertificates.Thumbprint(certificate.GetRawCertData()) == thumbprint);
            await Assert.ThrowsAnyAsync<Exception>(() => ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "acme.platform.test" }, limit.Token));
        }

        await refusals.WaitForAsync("", "tls_failed", 1);
        Assert.Empty(await Wait.ListAsync(silo, "acme"));
        Assert.Equal(0, recorder.Accepted("ws", 1) + recorder.Accepted("ws", 2) + recorder.Accepted("tls", 1));
    }

    private static async Task<Socket> ConnectAsync(IPEndPoint endPoint, IPAddress source)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var limit = new CancellationTokenSource(WaitLimit);
        socket.Bind(new IPEndPoint(source, 0));
        await socket.ConnectAsync(endPoint, limit.Token);
        return socket;
    }

    /// <summary>Sends <paramref name="bytes"/> from <paramref name="source"/>; the gateway must close without answering a byte.</summary>
    private static async Task AssertClosedAsync(IPEndPoint endPoint, IPAddress source, byte[] bytes, bool shutdown = false)
    {
        using var socket = await ConnectAsync(endPoint, source);
        using var limit = new CancellationTokenSource(WaitLimit);
        if (bytes.Length > 0)
        {
            await socket.SendAsync(bytes, SocketFlags.None, limit.Token);
        }

        if (shutdown)
        {
            socket.Shutdown(SocketShutdown.Send);
        }

        var buffer = new byte[64];
        int read;
        try
        {
            read = await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            // Closed with unread bytes: the kernel answers them with a reset.
            return;
        }

        Assert.True(read == 0, $"the gateway answered {read} bytes instead of closing");
    }
}
