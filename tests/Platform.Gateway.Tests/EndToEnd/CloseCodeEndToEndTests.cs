using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Contracts.Tenants;
using Platform.Gateway.Tcp;
using Platform.Gateway.Tests.Support;
using Platform.Testing;

namespace Platform.Gateway.Tests.EndToEnd;

/// <summary>
/// The same event closes a connection with the same code and reason whatever the client's protocol: real ws, TLS and
/// DTLS clients (openssl s_client for DTLS) through one gateway, a real backend, a real silo over PostgreSQL.
/// </summary>
public sealed class CloseCodeEndToEndTests
{
    [Fact]
    public async Task ForwardBackendCloses_WsTlsAndDtlsClients_AllClosedWith4001BackendClosed()
    {
        await using var backend = new FaultyBackend(BackendFault.CloseOnFirstRead);
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig
        {
            Delivery = new DeliveryConfig
            {
                Mode = DeliveryModes.Forward,
                Forward = new ForwardConfig { Host = "127.0.0.1", Port = backend.Port, Protocol = ForwardProtocols.Tcp, MessageFraming = MessageFramings.Raw },
            },
        });
        await TlsTenantSetup.UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        var key = RandomNumberGenerator.GetHexString(32);
        await TlsTenantSetup.CreatePskAsync(silo, "acme", "dev1", key);

        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForSnapshotAsync(s => s.BySlug.TryGetValue("acme", out var t) && t.Source.Certificates.Count == 1 && t.Source.PskIdentities.Count == 1);
        await gateway.WaitForTenantAsync("acme");

        // ws: the client's close frame carries the code and reason the directory records.
        using (var ws = await WsClient.ConnectAsync(gateway.WsUri("acme")))
        {
            await WsClient.SendTextAsync(ws, "over ws");
            var (type, _) = await WsClient.ReceiveAsync(ws);
            Assert.Equal(WebSocketMessageType.Close, type);
            Assert.Equal((4001, "backend closed"), ((int)ws.CloseStatus!, ws.CloseStatusDescription));
        }

        await AssertClosedAsync(silo, ConnectionProtocols.Ws);

        await using (var tls = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "acme.platform.test"))
        {
            await tls.WriteAsync("over tls\n");
            await AssertClosedAsync(silo, ConnectionProtocols.Tls);
        }

        await using (var dtls = PeerProcess.Start("openssl", $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -psk_identity acme/dev1 -psk {key} -cipher PSK-AES128-GCM-SHA256"))
        {
            await dtls.WaitForTextAsync("CONNECTED");
            await dtls.WriteLineAsync("over dtls");
            // close_notify ends s_client although its stdin stays open.
            await dtls.WaitForExitAsync();
            await AssertClosedAsync(silo, ConnectionProtocols.Dtls);
        }

        Assert.Equal(3, backend.Broken);
    }

    [Fact]
    public async Task ForwardBackendResetsMidConnection_WsTcpTlsAndDtlsClients_AllClosedWith4001BackendFailed()
    {
        await using var backend = new FaultyBackend(BackendFault.EchoThenReset);
        var range = FreePorts.Range(2);
        await using var silo = await SiloFixture.StartAsync(TlsTenantSetup.SiloPortRange(range));
        await silo.CreateTenantAsync("acme", new TenantConfig
        {
            Delivery = new DeliveryConfig
            {
                Mode = DeliveryModes.Forward,
                Forward = new ForwardConfig { Host = "127.0.0.1", Port = backend.Port, Protocol = ForwardProtocols.Tcp, MessageFraming = MessageFramings.Raw },
            },
        });
        await TlsTenantSetup.UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        var key = RandomNumberGenerator.GetHexString(32);
        await TlsTenantSetup.CreatePskAsync(silo, "acme", "dev1", key);

        await using var gateway = await silo.StartGatewayAsync(settings: TlsTenantSetup.GatewayPortRange(range));
        await gateway.WaitForSnapshotAsync(s => s.BySlug.TryGetValue("acme", out var t) && t.Source.Certificates.Count == 1 && t.Source.PskIdentities.Count == 1);
        await gateway.WaitForTenantAsync("acme");
        var tcpPort = (await TlsTenantSetup.AllocatePortAsync(silo, "acme", DedicatedPortProtocols.Tcp)).Port;
        var listeners = (DedicatedPortListeners)gateway.Services.GetService(typeof(DedicatedPortListeners))!;
        await Wait.UntilAsync(() => listeners.OpenPorts.Contains(tcpPort), "the dedicated TCP listener");

        // ws: a working connection first (the backend echoes), then the backend resets; the close frame names the cause.
        using (var ws = await WsClient.ConnectAsync(gateway.WsUri("acme")))
        {
            await WsClient.SendTextAsync(ws, "one");
            Assert.Equal("one", await WsClient.ReceiveTextAsync(ws));
            await WsClient.SendTextAsync(ws, "two");
            var (type, _) = await WsClient.ReceiveAsync(ws);
            Assert.Equal(WebSocketMessageType.Close, type);
            Assert.Equal((4001, "backend failed"), ((int)ws.CloseStatus!, ws.CloseStatusDescription));
        }

        await AssertClosedAsync(silo, ConnectionProtocols.Ws, "backend failed");

        // Plain TCP: the client sees its stream end; the directory shows the same code.
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync(IPAddress.Loopback, tcpPort);
            var stream = tcp.GetStream();
            using var limit = new CancellationTokenSource(PeerProcess.Wait);
            await stream.WriteAsync("one\n"u8.ToArray(), limit.Token);
            var echo = new byte[4];
            await stream.ReadExactlyAsync(echo, limit.Token);
            Assert.Equal("one\n"u8.ToArray(), echo);
            await stream.WriteAsync("two\n"u8.ToArray(), limit.Token);
            Assert.True(await ClosedAsync(stream, limit.Token), "the gateway closed the TCP client");
            await AssertClosedAsync(silo, ConnectionProtocols.Tcp, "backend failed");
        }

        await using (var tls = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "acme.platform.test"))
        {
            Assert.Equal("one\n", await tls.EchoAsync("one\n"));
            await tls.WriteAsync("two\n");
            await AssertClosedAsync(silo, ConnectionProtocols.Tls, "backend failed");
        }

        await using (var dtls = PeerProcess.Start("openssl", $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -psk_identity acme/dev1 -psk {key} -cipher PSK-AES128-GCM-SHA256"))
        {
            await dtls.WaitForTextAsync("CONNECTED");
            await dtls.WriteLineAsync("one");
            await dtls.WhenLine(line => line.Trim() == "one").WaitAsync(PeerProcess.Wait);
            await dtls.WriteLineAsync("two");
            // close_notify ends s_client although its stdin stays open.
            await dtls.WaitForExitAsync();
            await AssertClosedAsync(silo, ConnectionProtocols.Dtls, "backend failed");
        }

        Assert.Equal(4, backend.Broken);
    }

    /// <summary>Reads until the stream ends (zero bytes or a reset): true when it did within the token's time.</summary>
    private static async Task<bool> ClosedAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var buffer = new byte[256];
        try
        {
            while (await stream.ReadAsync(buffer, cancellationToken) > 0)
            {
            }

            return true;
        }
        catch (IOException)
        {
            return true;
        }
    }

    private static async Task AssertClosedAsync(SiloFixture silo, string protocol, string reason = "backend closed")
    {
        var closed = await silo.WaitForConnectionAsync("acme", c => c.Protocol == protocol, state: "closed");
        Assert.Equal((protocol, 4001, reason), (closed.Protocol, closed.CloseCode, closed.CloseReason));
    }
}
