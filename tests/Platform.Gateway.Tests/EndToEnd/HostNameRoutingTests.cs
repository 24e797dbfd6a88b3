using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts;
using Platform.Contracts.Certificates;
using Platform.Contracts.Config;
using Platform.Contracts.HostNames;
using Platform.Contracts.Tenants;
using Platform.Gateway.Dtls;
using Platform.Gateway.Tests.Support;
using Platform.Testing;

namespace Platform.Gateway.Tests.EndToEnd;

/// <summary>
/// A gateway routes a name only once its owner proved it: a real silo over PostgreSQL, a real gateway, real clients
/// (<c>openssl s_client</c> over TLS and DTLS, raw WebSocket upgrades) and a real dnsmasq on loopback serving the
/// challenge record.
/// </summary>
public sealed class HostNameRoutingTests
{
    [Fact]
    public async Task SelfSignedCertificateForVictimName_RoutesNothingUntilProvenByDns()
    {
        var dnsPort = FreePorts.TcpAndUdp();
        await using var silo = await SiloFixture.StartAsync(new Dictionary<string, string?> { ["Platform:DnsServers:0"] = $"127.0.0.1:{dnsPort}" });
        var tenant = await silo.CreateTenantAsync("acme");
        var (pem, thumbprint) = SelfSigned("victim.example.com");
        using (var upload = await silo.Operator.PostAsJsonAsync(
            new Uri("/v1/tenants/acme/certificates", UriKind.Relative), new UploadCertificateRequest(Pem: pem), PlatformJson.Options))
        {
            Assert.True(upload.StatusCode == HttpStatusCode.Created, await upload.Content.ReadAsStringAsync());
        }

        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForSnapshotAsync(s => s.BySlug.TryGetValue("acme", out var t) && t.Source.Certificates.Count == 1);
        var dtls = gateway.Services.GetRequiredService<DtlsListeners>().Shared!;
        await WaitUntilAsync(() => dtls.Tenants.FindById(tenant.Id.ToString()) is not null);

        // Pending: TLS SNI gets unrecognized_name, the ws Host header 404, DTLS SNI unrecognized_name.
        await using (var refused = await OpenSslClient.HandshakeAsync(gateway.TlsEndPoint, "victim.example.com"))
        {
            Assert.Null(refused.ServerCertificate);
            Assert.Contains("unrecognized name", refused.Transcript, StringComparison.OrdinalIgnoreCase);
        }

        Assert.Equal(404, (await RawHttp.UpgradeAsync(gateway.WsEndPoint, "victim.example.com", "/")).Status);
        var dtlsRefused = await PeerProcess.ExchangeLineAsync("openssl",
            $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -servername victim.example.com", "pending-name", expectEcho: false);
        Assert.Contains("unrecognized name", dtlsRefused, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("\npending-name", dtlsRefused, StringComparison.Ordinal);

        // The owner publishes the challenge record and asks the silo to check it.
        var claim = (await silo.Operator.GetFromJsonAsync<Page<HostNameResponse>>(
            new Uri("/v1/tenants/acme/host-names", UriKind.Relative), PlatformJson.Options))!.Items.Single(n => n.Name == "victim.example.com");
        Assert.Equal(HostNameStatuses.Pending, claim.Status);
        await using var dns = await Dnsmasq.StartAsync([Dnsmasq.Txt(claim.ChallengeRecord!, claim.ChallengeToken!)], ["example.com"], port: dnsPort);
        using (var verify = await silo.Operator.PostAsync(new Uri("/v1/tenants/acme/host-names/victim.example.com/verify", UriKind.Relative), null))
        {
            Assert.True(verify.StatusCode == HttpStatusCode.OK, await verify.Content.ReadAsStringAsync() + dns.Log);
        }

        await gateway.WaitForSnapshotAsync(s => s.ByHost("victim.example.com")?.Slug == "acme");
        await WaitUntilAsync(() => dtls.Tenants.FindById(tenant.Id.ToString())?.Settings.HostNames.Contains("victim.example.com") == true);

        await using (var served = await OpenSslClient.HandshakeAsync(gateway.TlsEndPoint, "victim.example.com"))
        {
            using var certificate = served.ServerCertificate;
            Assert.True(certificate is not null, served.Transcript);
            Assert.Equal(thumbprint, TestCertificates.Thumbprint(certificate.RawData));
        }

        Assert.Equal(101, (await RawHttp.UpgradeAsync(gateway.WsEndPoint, "victim.example.com", "/")).Status);
        var dtlsServed = await PeerProcess.ExchangeLineAsync("openssl",
            $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -servername victim.example.com", "proven-name");
        Assert.Contains("CN = victim.example.com", dtlsServed, StringComparison.Ordinal);
        await silo.WaitForConnectionAsync("acme", c => c.Tls?.Sni == "victim.example.com" && c.Protocol == "dtls", state: "all");
    }

    [Fact]
    public async Task ConfigHostName_RoutesOnlyOnceApproved_AndNeverOverAnotherTenantsVerifiedWildcard()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("bigcorp", new TenantConfig { HostNames = ["*.bigcorp.example"] });
        await HostNameApproval.ApproveAsync(silo.Operator, "bigcorp", "*.bigcorp.example");
        await silo.CreateTenantAsync("acme", new TenantConfig { HostNames = ["devices.acme.example"] });
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");
        await gateway.WaitForTenantAsync("bigcorp");

        var pending = await RawHttp.UpgradeAsync(gateway.WsEndPoint, "devices.acme.example", "/");
        // A squatter's exact name would have won over the wildcard; the silo refuses it, so the name stays bigcorp's.
        using var squat = await silo.Operator.PostAsJsonAsync(new Uri("/v1/tenants", UriKind.Relative),
            new CreateTenantRequest("squatter", "Squatter", new TenantConfig { HostNames = ["api.bigcorp.example"] }), PlatformJson.Options);
        await HostNameApproval.ApproveAsync(silo.Operator, "acme", "devices.acme.example");
        await gateway.WaitForSnapshotAsync(s => s.ByHost("devices.acme.example") is not null);
        var approved = await RawHttp.UpgradeAsync(gateway.WsEndPoint, "devices.acme.example", "/");

        Assert.Equal(404, pending.Status);
        Assert.Equal(HttpStatusCode.Conflict, squat.StatusCode);
        Assert.Equal(101, approved.Status);
        Assert.Equal("bigcorp", gateway.Store.Current.ByHost("api.bigcorp.example")?.Slug);
        Assert.Equal(101, (await RawHttp.UpgradeAsync(gateway.WsEndPoint, "api.bigcorp.example", "/")).Status);
    }

    private static (string Pem, string Thumbprint) SelfSigned(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(name);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        return (certificate.ExportCertificatePem() + "\n" + key.ExportPkcs8PrivateKeyPem() + "\n", TestCertificates.Thumbprint(certificate.RawData));
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!condition())
        {
            await Task.Delay(20, limit.Token);
        }
    }
}
