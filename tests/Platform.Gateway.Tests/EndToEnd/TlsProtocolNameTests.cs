using System.Security.Authentication;
using System.Security.Cryptography;
using Platform.Contracts.Connections;
using Platform.Gateway.Tests.Support;
using Platform.Testing;

namespace Platform.Gateway.Tests.EndToEnd;

/// <summary>
/// The directory names the negotiated protocol as the protocols name themselves (<c>TLSv1.2</c>, <c>TLSv1.3</c>,
/// <c>DTLSv1.2</c>), whichever stack terminated it: .NET's for TLS, OpenSSL's for DTLS. Real clients, gateway and silo.
/// </summary>
public sealed class TlsProtocolNameTests
{
    [Fact]
    public async Task Directory_TlsAndDtlsConnections_ListTheProtocolsOwnNames()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await TlsTenantSetup.UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        var key = RandomNumberGenerator.GetHexString(32);
        await TlsTenantSetup.CreatePskAsync(silo, "acme", "dev1", key);

        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForSnapshotAsync(s => s.BySlug.TryGetValue("acme", out var t) && t.Source.Certificates.Count == 1 && t.Source.PskIdentities.Count == 1);
        await gateway.WaitForTenantAsync("acme");

        await using var tls12 = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "acme.platform.test", protocols: SslProtocols.Tls12);
        await using var tls13 = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "acme.platform.test", protocols: SslProtocols.Tls13);
        Assert.Equal("one\n", await tls12.EchoAsync("one\n"));
        Assert.Equal("three\n", await tls13.EchoAsync("three\n"));
        await using var dtls = PeerProcess.Start("openssl", $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -psk_identity acme/dev1 -psk {key} -cipher PSK-AES128-GCM-SHA256");
        await dtls.WriteLineAsync("datagram");
        await dtls.WaitForTextAsync("datagram");

        var first = await silo.WaitForConnectionAsync("acme", c => c.Protocol == ConnectionProtocols.Tls && c.BytesIn == 4);
        var second = await silo.WaitForConnectionAsync("acme", c => c.Protocol == ConnectionProtocols.Tls && c.BytesIn == 6);
        var datagrams = await silo.WaitForConnectionAsync("acme", c => c.Protocol == ConnectionProtocols.Dtls);
        Assert.Equal("TLSv1.2", first.Tls!.Protocol);
        Assert.Equal("TLSv1.3", second.Tls!.Protocol);
        Assert.Equal("DTLSv1.2", datagrams.Tls!.Protocol);
    }
}
