using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Gateway.Connections;
using Platform.Gateway.Dtls;
using Platform.Gateway.Dtls.Tests.Bc;
using Platform.Gateway.Tests.Support;
using Platform.Testing;

namespace Platform.Gateway.Tests.Dtls;

/// <summary>The BouncyCastle engine through the gateway: directory facts, a moved client address, the heartbeat close code.</summary>
public sealed partial class DtlsEndToEndTests
{
    [Fact]
    public async Task BouncyCastleConnectionId_ClientMovesAndTheDirectoryFollows()
    {
        await using var backend = new UdpEchoBackend();
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", ForwardUdp(backend.Port) with
        {
            Dtls = new DtlsConfig { ConnectionIds = new DtlsConnectionIdConfig { Enabled = true, Length = 6 } },
        });
        var material = TestCertificates.ServerMaterial("device.acme.example");
        await UploadCertificateAsync(silo, "acme", material);
        var key = RandomNumberGenerator.GetBytes(16);
        await CreatePskAsync(silo, "acme", "dev1", Convert.ToHexString(key));
        await using var gateway = await StartGatewayAsync(silo, "acme", t => t.Source.Certificates.Count == 1 && t.Source.PskIdentities.Count == 1);
        var server = new IPEndPoint(IPAddress.Loopback, gateway.DtlsPort);

        using var client = await Task.Run(() => BcTestClient.Connect(server, "device.acme.example", "acme/dev1", key, connectionId: true, heartbeat: false));
        client.Send("one");
        Assert.Equal("echo:one", await Task.Run(() => client.Receive(TimeSpan.FromSeconds(20))));
        var open = await silo.WaitForConnectionAsync("acme", c => c.MessagesIn >= 1);
        Assert.Equal(DtlsEngines.BouncyCastle, open.Tls!.Engine);
        Assert.Equal(12, open.Tls.ConnectionId!.Length);
        Assert.Equal("acme/dev1", open.Tls.PskIdentity);
        Assert.Equal(client.LocalEndPoint.Port, open.RemotePort);

        client.Rebind();
        client.Send("two");
        Assert.Equal("echo:two", await Task.Run(() => client.Receive(TimeSpan.FromSeconds(20))));
        var moved = await silo.WaitForConnectionAsync("acme", c => c.Id == open.Id && c.RemotePort == client.LocalEndPoint.Port);
        Assert.Equal("127.0.0.1", moved.RemoteAddress);
    }

    [Fact]
    public async Task BouncyCastleIdle_NeverSentData_DisconnectCommandIdleTimeoutAndGatewayStopEachCloseWithTheirCode()
    {
        // Connections that never had a datagram (no inbound queue allocated, the reader waiting on the connection
        // itself) still end with the right code whichever way they end.
        await using var silo = await SiloFixture.StartAsync();
        var bc = new DtlsConfig { ConnectionIds = new DtlsConnectionIdConfig { Enabled = true, Length = 6 } };
        await silo.CreateTenantAsync("acme", new TenantConfig { Dtls = bc });
        await silo.CreateTenantAsync("idle", new TenantConfig { Dtls = bc, Timeouts = new TimeoutsConfig { IdleTimeoutSeconds = 2 } });
        var key = RandomNumberGenerator.GetBytes(16);
        foreach (var slug in new[] { "acme", "idle" })
        {
            // The certificate's name is what the client's SNI routes by; the handshake itself is PSK.
            await UploadCertificateAsync(silo, slug, TestCertificates.ServerMaterial($"device.{slug}.example"));
            await CreatePskAsync(silo, slug, "dev1", Convert.ToHexString(key));
        }

        var gateway = await silo.StartGatewayAsync();
        var registry = gateway.Registry;
        var server = new IPEndPoint(IPAddress.Loopback, gateway.DtlsPort);
        var clients = new List<BcTestClient>();
        var stopped = false;
        try
        {
            await gateway.WaitForTenantAsync("acme");
            await gateway.WaitForTenantAsync("idle");
            await WaitForDtlsAsync(gateway, d => d.Tenants.Count(t => t.Settings.PreSharedKeys.Count == 1 && t.Settings.CertificatePems.Count == 1) == 2);
            await gateway.WaitRegisteredAsync();
            foreach (var identity in new[] { "acme/dev1", "acme/dev1", "idle/dev1" })
            {
                var name = $"device.{identity.Split('/')[0]}.example";
                clients.Add(await Task.Run(() => BcTestClient.Connect(server, name, identity, key, connectionId: true, heartbeat: false)));
            }

            var commanded = await silo.WaitForConnectionAsync("acme", c => c.Protocol == ConnectionProtocols.Dtls);
            Assert.Equal(DtlsEngines.BouncyCastle, commanded.Tls!.Engine);
            using (var disconnect = await silo.Operator.PostAsJsonAsync(
                new Uri($"/v1/tenants/acme/connections/{commanded.Id}/disconnect", UriKind.Relative), new DisconnectRequest(), PlatformJson.Options))
            {
                Assert.True(disconnect.IsSuccessStatusCode, await disconnect.Content.ReadAsStringAsync());
            }

            var disconnected = await silo.WaitForConnectionAsync("acme", c => c.Id == commanded.Id, state: "closed");
            Assert.Equal(CloseCodes.Normal, disconnected.CloseCode);

            var idled = await silo.WaitForConnectionAsync("idle", c => c.Protocol == ConnectionProtocols.Dtls, state: "closed");
            Assert.Equal((CloseCodes.IdleTimeout, "idle timeout"), (idled.CloseCode, idled.CloseReason));

            var last = Assert.Single(registry.All);
            Assert.Equal("acme", last.Tenant.Slug);
            Assert.Null(last.CloseCode);
            stopped = true;
            await gateway.DisposeAsync();
            Assert.Equal(CloseCodes.GoingAway, last.CloseCode);
            Assert.Equal(0, registry.Count);
        }
        finally
        {
            if (!stopped)
            {
                await gateway.DisposeAsync();
            }

            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    [Fact]
    public async Task BouncyCastleHeartbeat_StoppedGnuTlsClient_ClosedWithHeartbeatTimeout()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig { Dtls = new DtlsConfig { HeartbeatIntervalSeconds = 5, HeartbeatTimeoutSeconds = 2 } });
        var material = TestCertificates.ServerMaterial("hb.acme.example");
        await UploadCertificateAsync(silo, "acme", material);
        await using var gateway = await StartGatewayAsync(silo, "acme", t => t.Source.Certificates.Count == 1);
        var ca = WriteTemp(material.CertificateChainPem);

        await using var peer = PeerProcess.Start(
            "gnutls-cli",
            $"--udp --heartbeat --port {gateway.DtlsPort} --sni-hostname hb.acme.example --verify-hostname hb.acme.example --x509cafile {ca} --priority NORMAL:-VERS-ALL:+VERS-DTLS1.2 127.0.0.1");
        await peer.WaitForTextAsync("Handshake was completed");
        var open = await silo.WaitForConnectionAsync("acme", c => c.Protocol == ConnectionProtocols.Dtls);
        Assert.Equal(DtlsEngines.BouncyCastle, open.Tls!.Engine);

        // The device hangs: its socket stays, its answers stop.
        using (var stop = Process.Start("kill", $"-STOP {peer.Id}"))
        {
            await stop.WaitForExitAsync();
        }

        try
        {
            var closed = await silo.WaitForConnectionAsync("acme", c => c.Id == open.Id, state: "closed");
            Assert.Equal((CloseCodes.HeartbeatTimeout, "heartbeat timeout"), (closed.CloseCode, closed.CloseReason));
        }
        finally
        {
            using var resume = Process.Start("kill", $"-CONT {peer.Id}");
            await resume.WaitForExitAsync();
        }
    }
}
