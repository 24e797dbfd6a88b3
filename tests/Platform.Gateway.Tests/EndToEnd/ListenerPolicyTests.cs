using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Contracts.Tenants;
using Platform.Gateway.Tcp;
using Platform.Gateway.Tests.Support;
using Platform.Testing;
using static Platform.Gateway.Tests.Support.TlsTenantSetup;

namespace Platform.Gateway.Tests.EndToEnd;

/// <summary>
/// A tenant's <c>listeners</c> setting against a real silo and gateway: each kind it does not accept is refused on
/// its own listener in that listener's terms, with real clients (raw sockets, ClientWebSocket, Node's ws, openssl).
/// </summary>
public sealed class ListenerPolicyTests
{
    [Fact]
    public async Task Ws_TenantRequiringClientCertificates_403ByHostHeaderAndByPathWhileWssWithCertificateServes()
    {
        using var clientCa = TestCertificates.CreateCa("Acme Devices CA");
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig
        {
            Tls = new TlsConfig { ClientCertificates = ClientCertificateModes.Required, ClientCaCertificates = clientCa.ExportCertificatePem() },
        });
        await silo.CreateTenantAsync("open");
        var served = await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        await using var gateway = await silo.StartGatewayAsync();
        await WaitForCertificatesAsync(gateway, "acme", 1);
        await gateway.WaitForTenantAsync("open");
        using var refusals = new RefusalRecorder(gateway);

        // Plain ws would skip the certificate check entirely: by the tenant's host name, and by its path on any host.
        var byHost = await RawHttp.UpgradeAsync(gateway.WsEndPoint, "acme.platform.test", "/");
        var byPath = await RawHttp.UpgradeAsync(gateway.WsEndPoint, "127.0.0.1", "/t/acme/");
        foreach (var (status, head, body) in new[] { byHost, byPath })
        {
            Assert.Equal(403, status);
            Assert.Contains("Content-Type: application/problem+json", head, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("\"code\":\"protocol_not_allowed\"", body, StringComparison.Ordinal);
        }

        using (var dotnet = new ClientWebSocket())
        {
            dotnet.Options.CollectHttpResponseDetails = true;
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await Assert.ThrowsAsync<WebSocketException>(() => dotnet.ConnectAsync(gateway.WsUri("acme"), limit.Token));
            Assert.Equal(HttpStatusCode.Forbidden, dotnet.HttpStatusCode);
        }

        var (exit, stdout, stderr) = await NodeClient.RunAsync("ws-echo.mjs", gateway.WsUri("acme", "node").ToString());
        Assert.True(exit == 1 && stderr.Contains("upgrade refused: 403", StringComparison.Ordinal), $"node exited {exit}: {stdout} {stderr}");

        await refusals.WaitForAsync("acme", "protocol_not_allowed", 4);
        Assert.DoesNotContain(gateway.Registry.All, c => c.Tenant.Slug == "acme");

        // The tenant's own terms still serve: wss with a certificate from its CA; another tenant keeps plain ws.
        using var device = TestCertificates.CreateSigned(clientCa, "device-1", server: false);
        using (var wss = await ConnectWssAsync(gateway, "acme.platform.test", served.Thumbprint, device))
        {
            await WsClient.SendTextAsync(wss, "with certificate");
            Assert.Equal("with certificate", await WsClient.ReceiveTextAsync(wss));
        }

        using var open = await WsClient.ConnectAsync(gateway.WsUri("open"));
        await WsClient.SendTextAsync(open, "plain");
        Assert.Equal("plain", await WsClient.ReceiveTextAsync(open));
    }

    [Fact]
    public async Task ExplicitListeners_EveryKindNotListedIsRefusedOnItsOwnListener()
    {
        var range = FreePorts.Range(4);
        await using var silo = await SiloFixture.StartAsync(SiloPortRange(range));
        await silo.CreateTenantAsync("wsonly", new TenantConfig { Listeners = [ListenerProtocols.Ws] });
        await UploadServerCertificateAsync(silo, "wsonly", "wsonly.platform.test");
        await using var gateway = await silo.StartGatewayAsync(settings: GatewayPortRange(range));
        await WaitForCertificatesAsync(gateway, "wsonly", 1);
        var tcp = await AllocatePortAsync(silo, "wsonly", DedicatedPortProtocols.Tcp);
        var tls = await AllocatePortAsync(silo, "wsonly", DedicatedPortProtocols.Tls);
        var listeners = (DedicatedPortListeners)gateway.Services.GetService(typeof(DedicatedPortListeners))!;
        await Wait.UntilAsync(() => listeners.OpenPorts.Contains(tcp.Port) && listeners.OpenPorts.Contains(tls.Port), "both dedicated listeners");
        await WaitForDtlsTenantAsync(gateway, "wsonly");
        using var refusals = new RefusalRecorder(gateway);

        // The kind it lists serves.
        var (wsStatus, _, _) = await RawHttp.UpgradeAsync(gateway.WsEndPoint, "wsonly.platform.test", "/");
        Assert.Equal(101, wsStatus);

        // SNI-routed TLS and the dedicated TLS port: access_denied during the handshake, no certificate shown.
        foreach (var (endPoint, name) in new[] { (gateway.TlsEndPoint, "wsonly.platform.test"), (new IPEndPoint(IPAddress.Loopback, tls.Port), null) })
        {
            await using var openssl = await OpenSslClient.HandshakeAsync(endPoint, name);
            Assert.NotEqual(0, openssl.ExitCode);
            Assert.Null(openssl.ServerCertificate);
            Assert.Contains("alert access denied", openssl.Error, StringComparison.Ordinal);
        }

        // wss: the handshake completes, the upgrade is answered 403.
        await using (var wss = await TlsClient.ConnectAsync(gateway.WssEndPoint, "wsonly.platform.test"))
        {
            await wss.WriteAsync($"GET / HTTP/1.1\r\nHost: wsonly.platform.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {RawHttp.ValidKey}\r\nSec-WebSocket-Version: 13\r\n\r\n");
            var answer = await ReadToEndAsync(wss.Stream);
            Assert.StartsWith("HTTP/1.1 403", answer, StringComparison.Ordinal);
            Assert.Contains("\"code\":\"protocol_not_allowed\"", answer, StringComparison.Ordinal);
        }

        // The dedicated TCP port: closed at accept, nothing echoed.
        using (var plain = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await plain.ConnectAsync(IPAddress.Loopback, tcp.Port);
            var received = await ReadToEndAsync(new NetworkStream(plain, ownsSocket: false), "echo me\n");
            Assert.Equal("", received);
        }

        // DTLS: the refusal alert of every other DTLS refusal.
        var dtls = await PeerProcess.ExchangeLineAsync("openssl", $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -servername wsonly.platform.test", "never-echoed", expectEcho: false);
        Assert.Contains("access denied", dtls, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("\nnever-echoed", dtls, StringComparison.Ordinal);

        await refusals.WaitForAsync("wsonly", "protocol_not_allowed", 5);
        Assert.DoesNotContain(gateway.Registry.All, c => c.Protocol != ConnectionProtocols.Ws);

        // Listing the kinds again opens them to new clients at once.
        await ReplaceConfigAsync(silo, "wsonly", new TenantConfig { Listeners = [ListenerProtocols.Ws, ListenerProtocols.Tcp, ListenerProtocols.Tls] });
        await gateway.WaitForSnapshotAsync(s => s.BySlug["wsonly"].Accepts(ConnectionProtocols.Tcp));
        await using var admitted = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "wsonly.platform.test");
        Assert.Equal("tls again\n", await admitted.EchoAsync("tls again\n"));
        using var again = new TcpClient();
        await again.ConnectAsync(IPAddress.Loopback, tcp.Port);
        await again.GetStream().WriteAsync("tcp again\n"u8.ToArray());
        var back = new byte[10];
        using var readLimit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await again.GetStream().ReadExactlyAsync(back, readLimit.Token);
        Assert.Equal("tcp again\n", Encoding.ASCII.GetString(back));
    }

    [Fact]
    public async Task ConfigPut_PlainListenerWhileClientCertificatesRequired_AnsweredWithAWarning()
    {
        using var clientCa = TestCertificates.CreateCa("Acme Devices CA");
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        await using var gateway = await silo.StartGatewayAsync();
        await WaitForCertificatesAsync(gateway, "acme", 1);

        // Asked for explicitly, plain ws stays open beside required certificates; the answer says what that means.
        var answer = await ReplaceConfigAsync(silo, "acme", new TenantConfig
        {
            Listeners = [ListenerProtocols.Wss, ListenerProtocols.Ws],
            Tls = new TlsConfig { ClientCertificates = ClientCertificateModes.Required, ClientCaCertificates = clientCa.ExportCertificatePem() },
        });

        var warning = Assert.Single(answer.Warnings!);
        Assert.Equal(("listeners[1]", "plain_listener_with_client_certificates"), (warning.Field, warning.Code));
        await gateway.WaitForSnapshotAsync(s => s.BySlug["acme"].Config.Tls.ClientCertificates == ClientCertificateModes.Required);
        var (status, _, _) = await RawHttp.UpgradeAsync(gateway.WsEndPoint, "acme.platform.test", "/");
        Assert.Equal(101, status);
    }

    private static async Task WaitForDtlsTenantAsync(TestGateway gateway, string slug)
    {
        var server = ((Platform.Gateway.Dtls.DtlsListeners)gateway.Services.GetService(typeof(Platform.Gateway.Dtls.DtlsListeners))!).Shared!;
        var id = gateway.Store.Current.BySlug[slug].Id.ToString();
        await Wait.UntilAsync(() => server.Tenants.FindById(id) is { } t && t.Settings.CertificatePems.Count == 1, $"the DTLS listener to serve {slug}");
    }

    /// <summary>
    /// Writes <paramref name="send"/> (if any), then reads until the server closes (a reset ends it too); fails, naming
    /// what arrived, when the server keeps the connection open.
    /// </summary>
    private static async Task<string> ReadToEndAsync(Stream stream, string? send = null)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var received = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            if (send is not null)
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes(send), limit.Token);
            }

            int read;
            while ((read = await stream.ReadAsync(buffer, limit.Token)) > 0)
            {
                received.Write(buffer, 0, read);
            }
        }
        catch (IOException)
        {
            // Reset after (or instead of) an answer: the end as well.
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"The server kept the connection open after sending '{Encoding.UTF8.GetString(received.ToArray())}'.");
        }

        return Encoding.UTF8.GetString(received.ToArray());
    }

    /// <summary>wss to the gateway's port with SNI <paramref name="host"/>, accepting only the certificate expected for it.</summary>
    private static async Task<ClientWebSocket> ConnectWssAsync(TestGateway gateway, string host, string expectedThumbprint, X509Certificate2 clientCertificate)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(gateway.WssEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            },
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    certificate is not null && TestCertificates.Thumbprint(certificate.GetRawCertData()) == expectedThumbprint,
                ClientCertificateContext = SslStreamCertificateContext.Create(clientCertificate, null, offline: true),
            },
        };
        var socket = new ClientWebSocket();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var invoker = new HttpMessageInvoker(handler);
        await socket.ConnectAsync(new Uri($"wss://{host}:{gateway.Listeners.WssPort}/"), invoker, limit.Token);
        return socket;
    }
}
