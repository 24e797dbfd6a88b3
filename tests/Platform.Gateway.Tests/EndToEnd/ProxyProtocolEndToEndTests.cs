using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts.Certificates;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Contracts.Tenants;
using Platform.Gateway.Dtls;
using Platform.Gateway.Tcp;
using Platform.Gateway.Tests.Support;
using Platform.Testing;
using static Platform.Gateway.Tests.Support.TlsTenantSetup;

namespace Platform.Gateway.Tests.EndToEnd;

/// <summary>
/// <c>delivery.forward.proxyProtocol: v2</c> against a real silo and gateway: a backend that parses the PROXY v2 header
/// itself learns who connected and how (ws, wss with a client certificate, SNI-routed TLS, a dedicated TCP port), so
/// it can tell a plain ws client from a mutually authenticated one; a DTLS client (openssl) arrives as UDP with its PSK identity.
/// </summary>
public sealed class ProxyProtocolEndToEndTests
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task ProxyV2_EveryListenerKind_BackendReadsClientGatewayEndpointAndTlvsBeforeTheClientsBytes()
    {
        var (first, last) = FreePorts.Range(2);
        using var clientCa = TestCertificates.CreateCa("Acme Devices CA");
        using var device = TestCertificates.CreateSigned(clientCa, "device-17", server: false);
        await using var backend = new ProxyV2Backend();
        await using var silo = await SiloFixture.StartAsync(new Dictionary<string, string?>
        {
            ["Platform:DedicatedPortFirst"] = first.ToString(CultureInfo.InvariantCulture),
            ["Platform:DedicatedPortLast"] = last.ToString(CultureInfo.InvariantCulture),
        });
        await silo.CreateTenantAsync("acme", new TenantConfig
        {
            Tls = new TlsConfig { ClientCertificates = ClientCertificateModes.Optional, ClientCaCertificates = clientCa.ExportCertificatePem() },
            Delivery = new DeliveryConfig
            {
                Mode = DeliveryModes.Forward,
                Forward = new ForwardConfig { Host = "127.0.0.1", Port = backend.Port, ProxyProtocol = ProxyProtocolVersions.V2 },
            },
        });
        var serverCertificate = await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        var dedicatedPort = (await AllocatePortAsync(silo, "acme", DedicatedPortProtocols.Tcp)).Port;
        await using var gateway = await silo.StartGatewayAsync(settings: new Dictionary<string, string?>
        {
            ["Platform:DedicatedPortMin"] = first.ToString(CultureInfo.InvariantCulture),
            ["Platform:DedicatedPortMax"] = last.ToString(CultureInfo.InvariantCulture),
        });
        await gateway.WaitForSnapshotAsync(s => s.BySlug.TryGetValue("acme", out var t) && t.Source.Certificates.Count == 1);
        await gateway.WaitForTenantAsync("acme");
        var listeners = (DedicatedPortListeners)gateway.Services.GetService(typeof(DedicatedPortListeners))!;
        await Wait.UntilAsync(() => listeners.OpenPorts.Contains(dedicatedPort), "the dedicated listener");

        // ws, routed by its Host header: no TLS facts.
        var (ws, wsClient) = await ConnectWebSocketAsync(gateway.WsEndPoint, new Uri($"ws://acme.platform.test:{gateway.Listeners.WsPort}/plain"));
        using (ws)
        {
            await WsClient.SendTextAsync(ws, "plain hello");
            Assert.Equal("plain hello", await WsClient.ReceiveTextAsync(ws));
            var header = await backend.NextHeaderAsync();
            var listed = await silo.WaitForConnectionAsync("acme", c => c.Protocol == ConnectionProtocols.Ws);
            AssertStream(header, wsClient, gateway.WsEndPoint);
            Assert.Equal("acme.platform.test", header.Text(0x02));
            Assert.Equal(listed.Id, header.Text(0x05));
            Assert.Equal("ws", header.Text(0xE0));
            Assert.Null(header.Ssl);
            Assert.DoesNotContain(header.Tlvs, t => t.Type is 0xE1 or 0xE2 or 0xE3);
        }

        // wss with a client certificate from the tenant's CA: the SSL TLV says so, with its CN, and the platform TLVs carry the rest.
        var (wss, wssClient) = await ConnectWebSocketAsync(
            gateway.WssEndPoint, new Uri($"wss://acme.platform.test:{gateway.Listeners.WssPort}/mtls"), serverCertificate.Thumbprint, device);
        using (wss)
        {
            await WsClient.SendTextAsync(wss, "mutual hello");
            Assert.Equal("mutual hello", await WsClient.ReceiveTextAsync(wss));
            var header = await backend.NextHeaderAsync();
            var listed = await silo.WaitForConnectionAsync("acme", c => c.Protocol == ConnectionProtocols.Wss);
            AssertStream(header, wssClient, gateway.WssEndPoint);
            Assert.Equal("acme.platform.test", header.Text(0x02));
            Assert.Equal(listed.Id, header.Text(0x05));
            Assert.Equal("wss", header.Text(0xE0));
            var ssl = header.Ssl!;
            Assert.Equal(0x01 | 0x02, ssl.Client);
            Assert.Equal(0u, ssl.Verify);
            Assert.Equal(listed.Tls!.Protocol, ssl.Text(0x21));
            Assert.StartsWith("TLSv1.", ssl.Text(0x21), StringComparison.Ordinal);
            Assert.Equal("device-17", ssl.Text(0x22));
            Assert.Equal(listed.Tls.CipherSuite, ssl.Text(0x23));
            Assert.Equal(TestCertificates.Thumbprint(device.RawData), header.Text(0xE1));
            Assert.Equal("CN=device-17", header.Text(0xE2));
            Assert.Null(header.Text(0xE3));
        }

        // Raw TLS routed by SNI, without a client certificate: TLS, but nothing verified.
        await using (var tls = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "acme.platform.test"))
        {
            Assert.Equal("tls hello\n", await tls.EchoAsync("tls hello\n"));
            var header = await backend.NextHeaderAsync();
            var listed = await silo.WaitForConnectionAsync("acme", c => c.Protocol == ConnectionProtocols.Tls && c.LocalPort == gateway.Listeners.TlsPort);
            AssertStream(header, tls.LocalEndPoint, gateway.TlsEndPoint);
            Assert.Equal("acme.platform.test", header.Text(0x02));
            Assert.Equal(listed.Id, header.Text(0x05));
            Assert.Equal("tls", header.Text(0xE0));
            var ssl = header.Ssl!;
            Assert.Equal(0x01, ssl.Client);
            Assert.NotEqual(0u, ssl.Verify);
            Assert.Equal(listed.Tls!.Protocol, ssl.Text(0x21));
            Assert.Null(ssl.Text(0x22));
            Assert.DoesNotContain(header.Tlvs, t => t.Type is 0xE1 or 0xE2);
        }

        // A dedicated plain TCP port: addresses, id and listener kind only.
        using (var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            using var limit = new CancellationTokenSource(WaitLimit);
            var dedicated = new IPEndPoint(IPAddress.Loopback, dedicatedPort);
            await tcp.ConnectAsync(dedicated, limit.Token);
            await tcp.SendAsync("tcp hello\n"u8.ToArray(), SocketFlags.None, limit.Token);
            var echoed = new byte[10];
            await new NetworkStream(tcp).ReadExactlyAsync(echoed, limit.Token);
            Assert.Equal("tcp hello\n", Encoding.ASCII.GetString(echoed));
            var header = await backend.NextHeaderAsync();
            var listed = await silo.WaitForConnectionAsync("acme", c => c.LocalPort == dedicatedPort);
            AssertStream(header, (IPEndPoint)tcp.LocalEndPoint!, dedicated);
            Assert.Null(header.Text(0x02));
            Assert.Equal(listed.Id, header.Text(0x05));
            Assert.Equal("tcp", header.Text(0xE0));
            Assert.Null(header.Ssl);
        }
    }

    [Fact]
    public async Task ProxyV2_DtlsPskClientToTcpBackend_UdpFamilyDtlsVersionAndPskIdentity()
    {
        await using var backend = new ProxyV2Backend();
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig
        {
            Delivery = new DeliveryConfig
            {
                Mode = DeliveryModes.Forward,
                Forward = new ForwardConfig { Host = "127.0.0.1", Port = backend.Port, Protocol = ForwardProtocols.Tcp, ProxyProtocol = ProxyProtocolVersions.V2 },
            },
        });
        var key = RandomNumberGenerator.GetHexString(32);
        await CreatePskAsync(silo, "acme", "dev1", key);

        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");
        await gateway.WaitForSnapshotAsync(s => s.BySlug.TryGetValue("acme", out var t) && t.Source.PskIdentities.Count == 1);
        var shared = gateway.Services.GetRequiredService<DtlsListeners>().Shared!;
        var id = gateway.Store.Current.BySlug["acme"].Id.ToString();
        await Wait.UntilAsync(() => shared.Tenants.FindById(id) is { Settings.PreSharedKeys.Count: 1 }, "the PSK in the DTLS listener");

        await using var peer = PeerProcess.Start("openssl", $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -psk_identity acme/dev1 -psk {key} -cipher PSK-AES128-GCM-SHA256");
        await peer.WriteLineAsync("datagram-one");
        await peer.WaitForTextAsync("datagram-one");

        var header = await backend.NextHeaderAsync();
        var listed = await silo.WaitForConnectionAsync("acme", c => c.Protocol == ConnectionProtocols.Dtls);
        Assert.Equal((1, 1, 2), (header.Command, header.Family, header.Transport));
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, listed.RemotePort), header.Source);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, gateway.DtlsPort), header.Destination);
        Assert.Equal(listed.Id, header.Text(0x05));
        Assert.Equal("dtls", header.Text(0xE0));
        Assert.Equal("acme/dev1", header.Text(0xE3));
        var ssl = header.Ssl!;
        Assert.Equal(0x01, ssl.Client);
        Assert.NotEqual(0u, ssl.Verify);
        Assert.Equal("DTLSv1.2", ssl.Text(0x21));
        Assert.Equal(listed.Tls!.CipherSuite, ssl.Text(0x23));
    }

    private static void AssertStream(ProxyV2Header header, IPEndPoint client, IPEndPoint gateway)
    {
        Assert.Equal(1, header.Command);
        Assert.Equal((1, 1), (header.Family, header.Transport));
        Assert.Equal(client, header.Source);
        Assert.Equal(gateway, header.Destination);
    }

    /// <summary>A WebSocket to <paramref name="uri"/> over a socket to <paramref name="endPoint"/>; also returns the client's own end.</summary>
    private static async Task<(ClientWebSocket Socket, IPEndPoint Client)> ConnectWebSocketAsync(
        IPEndPoint endPoint, Uri uri, string? expectedThumbprint = null, X509Certificate2? clientCertificate = null)
    {
        IPEndPoint? client = null;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(endPoint, cancellationToken);
                client = (IPEndPoint)socket.LocalEndPoint!;
                return new NetworkStream(socket, ownsSocket: true);
            },
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                    certificate is not null && TestCertificates.Thumbprint(certificate.GetRawCertData()) == expectedThumbprint,
                ClientCertificateContext = clientCertificate is null ? null : SslStreamCertificateContext.Create(clientCertificate, null, offline: true),
            },
        };
        var socket = new ClientWebSocket();
        using var limit = new CancellationTokenSource(WaitLimit);
        using var invoker = new HttpMessageInvoker(handler);
        await socket.ConnectAsync(uri, invoker, limit.Token);
        return (socket, client!);
    }

}
