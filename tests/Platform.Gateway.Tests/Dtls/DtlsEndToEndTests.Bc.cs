using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Platform.Contracts.Config;
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
        var open = await silo.WaitForConnectionAsync("acme", c => c.Protocol == Contracts.Connections.ConnectionProtocols.Dtls);
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
