using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts;
using Platform.Contracts.Certificates;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Contracts.Psk;
using Platform.Contracts.Tenants;
using Platform.Gateway.Admission;
using Platform.Gateway.Connections;
using Platform.Gateway.Dtls;
using Platform.Gateway.Tests.Support;
using Platform.Testing;

namespace Platform.Gateway.Tests.Dtls;

/// <summary>
/// DTLS through the gateway process against a real silo and PostgreSQL, with peers written elsewhere
/// (openssl s_client, gnutls-cli) and real UDP and TCP backends.
/// </summary>
public sealed partial class DtlsEndToEndTests : IDisposable
{
    private readonly List<string> _files = [];

    public void Dispose()
    {
        foreach (var file in _files)
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task OpenSslCertificate_ForwardUdp_DatagramsThroughBackendAndDirectoryShowsDtls()
    {
        await using var backend = new UdpEchoBackend();
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", ForwardUdp(backend.Port));
        var material = TestCertificates.ServerMaterial("device.acme.example");
        await UploadCertificateAsync(silo, "acme", material);
        await using var gateway = await StartGatewayAsync(silo, "acme", t => t.Source.Certificates.Count == 1);
        var ca = WriteTemp(material.CertificateChainPem);

        await using var peer = PeerProcess.Start("openssl", $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -servername device.acme.example -CAfile {ca} -verify_return_error");
        await peer.WriteLineAsync("ping-one");
        await peer.WaitForTextAsync("echo:ping-one");
        await peer.WriteLineAsync("ping-two");
        await peer.WaitForTextAsync("echo:ping-two");

        Assert.Contains("Verify return code: 0 (ok)", peer.Output, StringComparison.Ordinal);
        Assert.Single(backend.Senders);
        var open = await silo.WaitForConnectionAsync("acme", c => c.MessagesIn >= 2 && c.MessagesOut >= 2);
        Assert.Equal(ConnectionProtocols.Dtls, open.Protocol);
        Assert.Equal(gateway.NodeId, open.GatewayId);
        Assert.Equal(gateway.DtlsPort, open.LocalPort);
        Assert.Equal("device.acme.example", open.Tls!.Sni);
        Assert.StartsWith("ECDHE-ECDSA-", open.Tls.CipherSuite, StringComparison.Ordinal);
        Assert.Null(open.Tls.PskIdentity);

        await peer.CloseInputAndWaitAsync(TimeSpan.FromSeconds(20));
        var closed = await silo.WaitForConnectionAsync("acme", c => c.Id == open.Id, state: "closed");
        Assert.Equal(CloseCodes.ClientClosed, closed.CloseCode);
    }

    [Theory]
    [InlineData("PSK-AES128-GCM-SHA256")]
    [InlineData("ECDHE-PSK-AES128-CBC-SHA256")]
    public async Task OpenSslPsk_ForwardUdp_EchoedByBackendWithIdentityInDirectory(string cipher)
    {
        await using var backend = new UdpEchoBackend();
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", ForwardUdp(backend.Port));
        var key = RandomNumberGenerator.GetHexString(32);
        await CreatePskAsync(silo, "acme", "dev1", key);
        await using var gateway = await StartGatewayAsync(silo, "acme", t => t.Source.PskIdentities.Count == 1);

        var output = await PeerProcess.ExchangeLineAsync("openssl", $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -psk_identity acme/dev1 -psk {key} -cipher {cipher}", "echo:ping-psk");

        Assert.Contains("echo:ping-psk", output, StringComparison.Ordinal);
        var listed = await silo.WaitForConnectionAsync("acme", c => c.MessagesIn >= 1, state: "all");
        Assert.Equal("acme/dev1", listed.Tls!.PskIdentity);
        Assert.Equal(cipher, listed.Tls.CipherSuite);
    }

    [Fact]
    public async Task GnuTlsCertificate_ForwardUdp_EchoedByBackend()
    {
        await using var backend = new UdpEchoBackend();
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", ForwardUdp(backend.Port));
        var material = TestCertificates.ServerMaterial("gnutls.acme.example");
        await UploadCertificateAsync(silo, "acme", material);
        await using var gateway = await StartGatewayAsync(silo, "acme", t => t.Source.Certificates.Count == 1);
        var ca = WriteTemp(material.CertificateChainPem);

        var output = await PeerProcess.ExchangeLineAsync(
            "gnutls-cli",
            $"--udp --port {gateway.DtlsPort} --sni-hostname gnutls.acme.example --verify-hostname gnutls.acme.example --x509cafile {ca} --priority NORMAL:-VERS-ALL:+VERS-DTLS1.2 127.0.0.1",
            "echo:ping-gnutls");

        Assert.Contains("Handshake was completed", output, StringComparison.Ordinal);
        Assert.Contains("echo:ping-gnutls", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClientCertificateRequired_VerifiedCertificateInDirectoryAndNoCertificateRefused()
    {
        using var clientCa = TestCertificates.CreateCa("Device CA");
        using var device = TestCertificates.CreateSigned(clientCa, "device-7", server: false);
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig
        {
            Tls = new TlsConfig { ClientCertificates = ClientCertificateModes.Required, ClientCaCertificates = clientCa.ExportCertificatePem() },
        });
        await UploadCertificateAsync(silo, "acme", Material("mtls-server", "mtls.acme.example"));
        await using var gateway = await StartGatewayAsync(silo, "acme", t => t.Source.Certificates.Count == 1);
        var certFile = WriteTemp(device.ExportCertificatePem());
        var keyFile = WriteTemp(device.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        var arguments = $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -servername mtls.acme.example";

        var withCertificate = await PeerProcess.ExchangeLineAsync("openssl", $"{arguments} -cert {certFile} -key {keyFile}", "with-certificate");
        var without = await PeerProcess.ExchangeLineAsync("openssl", arguments, "never-echoed", expectEcho: false);

        Assert.Contains("\nwith-certificate", withCertificate, StringComparison.Ordinal);
        Assert.DoesNotContain("\nnever-echoed", without, StringComparison.Ordinal);
        var listed = await silo.WaitForConnectionAsync("acme", _ => true, state: "all");
        Assert.Contains("device-7", listed.Tls!.ClientCertificateSubject, StringComparison.Ordinal);
        Assert.Contains("Device CA", listed.Tls.ClientCertificateIssuer, StringComparison.Ordinal);
        Assert.Equal(TestCertificates.Thumbprint(device.RawData), listed.Tls.ClientCertificateThumbprint);
        Assert.True(listed.Tls.ClientCertificateAccepted);
        Assert.Equal(1, await CountConnectionsAsync(silo, "acme"));
    }

    [Fact]
    public async Task Sni_TwoTenants_EachServedWithItsOwnCertificate()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await silo.CreateTenantAsync("beta");
        await UploadCertificateAsync(silo, "acme", Material("acme-cert", "dtls.acme.example"));
        await UploadCertificateAsync(silo, "beta", Material("beta-cert", "dtls.beta.example"));
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");
        await gateway.WaitForTenantAsync("beta");
        await WaitForDtlsAsync(gateway, d => d.Tenants.Count(t => t.Settings.CertificatePems.Count == 1) == 2);

        var acme = await PeerProcess.ExchangeLineAsync("openssl", $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -servername dtls.acme.example", "sni-acme");
        var beta = await PeerProcess.ExchangeLineAsync("openssl", $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -servername dtls.beta.example", "sni-beta");

        Assert.Contains("CN = acme-cert", acme, StringComparison.Ordinal);
        Assert.DoesNotContain("beta-cert", acme, StringComparison.Ordinal);
        Assert.Contains("CN = beta-cert", beta, StringComparison.Ordinal);
        Assert.Contains("sni-beta", beta, StringComparison.Ordinal);
        await silo.WaitForConnectionAsync("acme", c => c.Tls!.Sni == "dtls.acme.example", state: "all");
        await silo.WaitForConnectionAsync("beta", c => c.Tls!.Sni == "dtls.beta.example", state: "all");
    }

    [Fact]
    public async Task DedicatedPort_ClientWithoutSni_ServedWithTheTenantsCertificate()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await silo.CreateTenantAsync("beta");
        await UploadCertificateAsync(silo, "acme", Material("acme-dedicated", "port.acme.example"));
        await UploadCertificateAsync(silo, "beta", Material("beta-shared", "port.beta.example"));
        using var allocated = await silo.Operator.PostAsJsonAsync(
            new Uri("/v1/tenants/acme/ports", UriKind.Relative), new Contracts.Tenants.AllocatePortRequest(ConnectionProtocols.Dtls), PlatformJson.Options);
        Assert.True(allocated.IsSuccessStatusCode, await allocated.Content.ReadAsStringAsync());
        var port = (await allocated.Content.ReadFromJsonAsync<Contracts.Tenants.DedicatedPortResponse>(PlatformJson.Options))!.Port;
        await using var gateway = await StartGatewayAsync(silo, "acme", t => t.DedicatedPorts.Count == 1 && t.Source.Certificates.Count == 1);
        var listeners = gateway.Services.GetRequiredService<DtlsListeners>();
        using (var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
        {
            while (!listeners.DedicatedPorts.Contains(port))
            {
                await Task.Delay(20, limit.Token);
            }
        }

        var served = await PeerProcess.ExchangeLineAsync("openssl", $"s_client -dtls1_2 -connect 127.0.0.1:{port}", "on-dedicated-port");

        // The port decides the tenant before SNI does (as on dedicated TLS ports): another tenant's name still gets this tenant.
        var otherName = await PeerProcess.ExchangeLineAsync("openssl", $"s_client -dtls1_2 -connect 127.0.0.1:{port} -servername port.beta.example", "other-name");

        Assert.Contains("CN = acme-dedicated", served, StringComparison.Ordinal);
        Assert.Contains("\non-dedicated-port", served, StringComparison.Ordinal);
        Assert.Contains("CN = acme-dedicated", otherName, StringComparison.Ordinal);
        Assert.DoesNotContain("beta-shared", otherName, StringComparison.Ordinal);
        var listed = await silo.WaitForConnectionAsync("acme", c => c.Tls!.Sni is null, state: "all");
        Assert.Equal(port, listed.LocalPort);
        await silo.WaitForConnectionAsync("acme", c => c.Tls!.Sni == "port.beta.example", state: "all");
        Assert.Equal(0, await CountConnectionsAsync(silo, "beta"));
    }

    [Fact]
    public async Task Psk_IdentityOfOneTenantWithAnotherTenantsKey_Refused()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await silo.CreateTenantAsync("beta");
        var acmeKey = RandomNumberGenerator.GetHexString(32);
        var betaKey = RandomNumberGenerator.GetHexString(32);
        await CreatePskAsync(silo, "acme", "dev1", acmeKey);
        await CreatePskAsync(silo, "beta", "dev1", betaKey);
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");
        await gateway.WaitForTenantAsync("beta");
        await WaitForDtlsAsync(gateway, d => d.Tenants.Count(t => t.Settings.PreSharedKeys.Count == 1) == 2);

        var wrong = await PeerProcess.ExchangeLineAsync("openssl", $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -psk_identity acme/dev1 -psk {betaKey} -cipher PSK-AES128-GCM-SHA256", "never-echoed", expectEcho: false);
        var right = await PeerProcess.ExchangeLineAsync("openssl", $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -psk_identity beta/dev1 -psk {betaKey} -cipher PSK-AES128-GCM-SHA256", "echoed-for-beta");

        Assert.DoesNotContain("\nnever-echoed", wrong, StringComparison.Ordinal);
        Assert.Contains("\nechoed-for-beta", right, StringComparison.Ordinal);
        var listed = await silo.WaitForConnectionAsync("beta", _ => true, state: "all");
        Assert.Equal("beta/dev1", listed.Tls!.PskIdentity);
        Assert.Equal(0, await CountConnectionsAsync(silo, "acme"));
    }

    [Fact]
    public async Task BlockedClient_RefusedWithAccessDeniedAndCounted()
    {
        using var refusals = new RefusalRecorder();
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("blk", new TenantConfig { Access = new AccessConfig { BlockedClients = "127.0.0.1" } });
        await UploadCertificateAsync(silo, "blk", Material("blk-cert", "dtls.blk.example"));
        await using var gateway = await StartGatewayAsync(silo, "blk", t => t.Source.Certificates.Count == 1);

        var output = await PeerProcess.ExchangeLineAsync("openssl", $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -servername dtls.blk.example", "never-echoed", expectEcho: false);

        Assert.Contains("access denied", output, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("\nnever-echoed", output, StringComparison.Ordinal);
        Assert.Equal(0, gateway.Registry.Count);
        await refusals.WaitForAsync("blk", "blocked", 1);
    }

    [Fact]
    public async Task HalfOpenPerClientCap_SecondHandshakeFromTheSameAddress_RefusedAndCountedAsHalfOpenLimit()
    {
        using var refusals = new RefusalRecorder();
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("half", new TenantConfig { Limits = new LimitsConfig { MaxHalfOpenHandshakesPerClient = 1 } });
        await UploadCertificateAsync(silo, "half", Material("half-cert", "dtls.half.example"));
        await using var gateway = await StartGatewayAsync(silo, "half", t => t.Source.Certificates.Count == 1);
        var server = gateway.Services.GetRequiredService<DtlsListeners>().Shared!;
        var tenantId = gateway.Store.Current.BySlug["half"].Id.ToString();

        // One openssl client from 127.0.0.1 left half-open: its second flight never reaches the gateway.
        await using var relay = new StallingUdpRelay(new IPEndPoint(IPAddress.Loopback, gateway.DtlsPort));
        await using var stalled = PeerProcess.Start("openssl", $"s_client -dtls1_2 -connect 127.0.0.1:{relay.Port} -servername dtls.half.example");
        await relay.Stalled.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(1, server.HalfOpenHandshakes(tenantId));

        var output = await PeerProcess.ExchangeLineAsync("openssl", $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -servername dtls.half.example", "never-echoed", expectEcho: false);

        Assert.Contains("access denied", output, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("\nnever-echoed", output, StringComparison.Ordinal);
        await refusals.WaitForAsync("half", "half_open_limit", 1);
        Assert.Equal(0, gateway.Registry.Count);
    }

    [Fact]
    public async Task SuspendedTenant_LiveSessionClosedAndNewHandshakesRefused()
    {
        using var refusals = new RefusalRecorder();
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("susp");
        var key = RandomNumberGenerator.GetHexString(32);
        await CreatePskAsync(silo, "susp", "dev1", key);
        await using var gateway = await StartGatewayAsync(silo, "susp", t => t.Source.PskIdentities.Count == 1);
        var arguments = $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -psk_identity susp/dev1 -psk {key} -cipher PSK-AES128-GCM-SHA256";
        await using var live = PeerProcess.Start("openssl", arguments);
        await live.WriteLineAsync("before-suspension");
        await live.WaitForTextAsync("before-suspension");

        using (var suspend = await silo.Operator.PostAsync(new Uri("/v1/tenants/susp/suspend", UriKind.Relative), null))
        {
            Assert.True(suspend.IsSuccessStatusCode, await suspend.Content.ReadAsStringAsync());
        }

        await live.WaitForExitAsync();
        var closed = await silo.WaitForConnectionAsync("susp", _ => true, state: "closed");
        Assert.Equal(CloseCodes.Drained, closed.CloseCode);
        var refused = await PeerProcess.ExchangeLineAsync("openssl", arguments, "never-echoed", expectEcho: false);
        Assert.DoesNotContain("\nnever-echoed", refused, StringComparison.Ordinal);
        await refusals.WaitForAsync("susp", "suspended", 1);
    }

    [Fact]
    public async Task GatewayStop_LiveSessionGetsCloseNotifyAndIsUnregistered()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        var key = RandomNumberGenerator.GetHexString(32);
        await CreatePskAsync(silo, "acme", "dev1", key);
        var gateway = await StartGatewayAsync(silo, "acme", t => t.Source.PskIdentities.Count == 1);
        var registry = gateway.Registry;
        await using var peer = PeerProcess.Start("openssl", $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -psk_identity acme/dev1 -psk {key} -cipher PSK-AES128-GCM-SHA256");
        try
        {
            await peer.WriteLineAsync("before-stop");
            await peer.WaitForTextAsync("before-stop");
            Assert.Equal(1, registry.Count);
        }
        finally
        {
            await gateway.DisposeAsync();
        }

        await peer.WaitForExitAsync();
        Assert.Equal(0, registry.Count);
    }

    [Fact]
    public async Task MaxConnections_SecondSessionRefusedUntilTheFirstEnds()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig { Limits = new LimitsConfig { MaxConnections = 1 } });
        var key = RandomNumberGenerator.GetHexString(32);
        await CreatePskAsync(silo, "acme", "dev1", key);
        await using var gateway = await StartGatewayAsync(silo, "acme", t => t.Source.PskIdentities.Count == 1);
        var arguments = $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -psk_identity acme/dev1 -psk {key} -cipher PSK-AES128-GCM-SHA256";

        await using var first = PeerProcess.Start("openssl", arguments);
        await first.WriteLineAsync("first-in");
        await first.WaitForTextAsync("first-in");
        var second = await PeerProcess.ExchangeLineAsync("openssl", arguments, "second-never", expectEcho: false);

        Assert.DoesNotContain("\nsecond-never", second, StringComparison.Ordinal);
        Assert.Equal(1, gateway.Registry.Count);

        await first.CloseInputAndWaitAsync(TimeSpan.FromSeconds(20));
        await silo.WaitForConnectionAsync("acme", _ => true, state: "closed");
        var third = await PeerProcess.ExchangeLineAsync("openssl", arguments, "third-in");
        Assert.Contains("\nthird-in", third, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PskBurstBeyondTheLeasedSlots_DeferredWithoutAlertAndServedOnceTheLeaseArrives()
    {
        // The gateway reaches the silo through a relay that can be cut.
        await using var silo = await SiloFixture.StartAsync(behindRelay: true);
        await silo.CreateTenantAsync("acme", new TenantConfig { Limits = new LimitsConfig { MaxConnections = 10 } });
        var key = RandomNumberGenerator.GetHexString(32);
        await CreatePskAsync(silo, "acme", "dev1", key);
        var relay = silo.Relay!;
        // One slot per lease round.
        await using var gateway = await silo.StartGatewayAsync(
            settings: new Dictionary<string, string?> { ["Platform:LeaseBatch"] = "1", ["Platform:LeaseSyncMilliseconds"] = "200" });
        await gateway.WaitForTenantAsync("acme");
        await WaitForDtlsAsync(gateway, d => d.FindById(gateway.Store.Current.BySlug["acme"].Id.ToString()) is { Settings.PreSharedKeys.Count: 1 });
        using var refusals = new RefusalRecorder(gateway);
        var arguments = $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -psk_identity acme/dev1 -psk {key} -cipher PSK-AES128-GCM-SHA256";

        // The lease round trip that would top the one slot up cannot reach the silo for now.
        relay.Cut();
        await using var first = PeerProcess.Start("openssl", arguments);
        await first.WriteLineAsync("first-in");
        await first.WaitForTextAsync("first-in");
        var dtls = gateway.Services.GetRequiredService<DtlsListeners>().Shared!;
        var second = PeerProcess.ExchangeLineAsync("openssl", arguments, "second-in");
        await Wait.UntilAsync(() => Task.FromResult(dtls.Counters.Deferred >= 1), "the second handshake deferred");
        relay.Restore();

        // A client known only by its PSK identity: its key exchange was dropped unread until the slot arrived.
        var output = await second;
        Assert.Contains("\nsecond-in", output, StringComparison.Ordinal);
        Assert.DoesNotContain("alert", output, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, refusals.Count("acme", "max_connections"));
    }

    [Fact]
    public async Task IdleTimeout_ClosesTheSessionAndTheDirectoryShowsItClosed()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig { Timeouts = new TimeoutsConfig { IdleTimeoutSeconds = 1 } });
        var key = RandomNumberGenerator.GetHexString(32);
        await CreatePskAsync(silo, "acme", "dev1", key);
        await using var gateway = await StartGatewayAsync(silo, "acme", t => t.Source.PskIdentities.Count == 1);

        await using var peer = PeerProcess.Start("openssl", $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -psk_identity acme/dev1 -psk {key} -cipher PSK-AES128-GCM-SHA256");
        await peer.WriteLineAsync("then-silence");
        await peer.WaitForTextAsync("then-silence");

        // The client stays connected (stdin open) and silent: the gateway ends the session with close_notify.
        await peer.WaitForExitAsync();
        var closed = await silo.WaitForConnectionAsync("acme", _ => true, state: "closed");
        Assert.Equal(CloseCodes.IdleTimeout, closed.CloseCode);
        Assert.Equal(0, gateway.Registry.Count);
    }

    [Fact]
    public async Task KilledClient_DefaultIdleTimeoutOff_SessionEndsAfterTheDtlsIdleTimeoutAndItsSlotComesBack()
    {
        await using var silo = await SiloFixture.StartAsync();
        // idleTimeoutSeconds stays 0 (the seeds' default): only the DTLS idle timeout can end a vanished client's session.
        await silo.CreateTenantAsync("acme", new TenantConfig
        {
            Limits = new LimitsConfig { MaxConnections = 1 },
            Timeouts = new TimeoutsConfig { DtlsIdleTimeoutSeconds = 2 },
        });
        var key = RandomNumberGenerator.GetHexString(32);
        await CreatePskAsync(silo, "acme", "dev1", key);
        await using var gateway = await StartGatewayAsync(silo, "acme", t => t.Source.PskIdentities.Count == 1);
        var arguments = $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -psk_identity acme/dev1 -psk {key} -cipher PSK-AES128-GCM-SHA256";

        await using (var crashed = PeerProcess.Start("openssl", arguments))
        {
            await crashed.WriteLineAsync("before-the-crash");
            await crashed.WaitForTextAsync("before-the-crash");
            await silo.WaitForConnectionAsync("acme", c => c.Protocol == ConnectionProtocols.Dtls);
            await crashed.KillAsync();
        }

        var closed = await silo.WaitForConnectionAsync("acme", c => c.Protocol == ConnectionProtocols.Dtls, state: "closed");
        Assert.Equal((CloseCodes.IdleTimeout, "idle timeout"), (closed.CloseCode, closed.CloseReason));
        Assert.Equal(0, gateway.Registry.Count);
        var open = await silo.Operator.GetFromJsonAsync<Page<ConnectionResponse>>(new Uri("/v1/tenants/acme/connections?state=open", UriKind.Relative), PlatformJson.Options);
        Assert.Empty(open!.Items);

        // The one MaxConnections slot came back with it: the device, restarted, gets in again.
        var again = await PeerProcess.ExchangeLineAsync("openssl", arguments, "after-the-restart");
        Assert.Contains("\nafter-the-restart", again, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RestSendAndDisconnect_ReachTheOpenSslClient()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        var key = RandomNumberGenerator.GetHexString(32);
        await CreatePskAsync(silo, "acme", "dev1", key);
        await using var gateway = await StartGatewayAsync(silo, "acme", t => t.Source.PskIdentities.Count == 1);
        await gateway.WaitRegisteredAsync();

        await using var peer = PeerProcess.Start("openssl", $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -psk_identity acme/dev1 -psk {key} -cipher PSK-AES128-GCM-SHA256");
        await peer.WriteLineAsync("hello");
        await peer.WaitForTextAsync("hello");
        var listed = await silo.WaitForConnectionAsync("acme", _ => true);

        using (var send = await silo.Operator.PostAsJsonAsync(
            new Uri($"/v1/tenants/acme/connections/{listed.Id}/messages", UriKind.Relative), new SendMessageRequest(Text: "from-rest\n"), PlatformJson.Options))
        {
            Assert.True(send.IsSuccessStatusCode, await send.Content.ReadAsStringAsync());
        }

        await peer.WaitForTextAsync("from-rest");
        using (var tooLarge = await silo.Operator.PostAsJsonAsync(
            new Uri($"/v1/tenants/acme/connections/{listed.Id}/messages", UriKind.Relative), new SendMessageRequest(Binary: Convert.ToBase64String(new byte[4000])), PlatformJson.Options))
        {
            // The gateway's own validation reaches the REST caller as a problem naming the field.
            Assert.Equal(HttpStatusCode.BadRequest, tooLarge.StatusCode);
            var problem = await tooLarge.Content.ReadAsStringAsync();
            Assert.Contains("\"validation_failed\"", problem, StringComparison.Ordinal);
            Assert.Contains("\"binary\"", problem, StringComparison.Ordinal);
        }

        using (var disconnect = await silo.Operator.PostAsJsonAsync(
            new Uri($"/v1/tenants/acme/connections/{listed.Id}/disconnect", UriKind.Relative), new DisconnectRequest(), PlatformJson.Options))
        {
            Assert.True(disconnect.IsSuccessStatusCode, await disconnect.Content.ReadAsStringAsync());
        }

        // close_notify ends s_client even though its stdin is still open.
        await peer.WaitForExitAsync();
        var closed = await silo.WaitForConnectionAsync("acme", c => c.Id == listed.Id, state: "closed");
        Assert.Equal(CloseCodes.Normal, closed.CloseCode);
        Assert.True(closed.MessagesOut >= 2);
    }

    [Fact]
    public async Task CertificateRotatedWhileSessionLive_SessionStaysAndNewHandshakeSeesNewCertificate()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        var old = await UploadCertificateAsync(silo, "acme", Material("rotation-old", "rot.acme.example"));
        await using var gateway = await StartGatewayAsync(silo, "acme", t => t.Source.Certificates.Count == 1);
        var tenantId = gateway.Store.Current.BySlug["acme"].Id.ToString();
        var arguments = $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -servername rot.acme.example";

        await using var live = PeerProcess.Start("openssl", arguments);
        await live.WriteLineAsync("before-rotation");
        await live.WaitForTextAsync("before-rotation");
        Assert.Contains("CN = rotation-old", live.Output, StringComparison.Ordinal);

        var replacement = await UploadCertificateAsync(silo, "acme", Material("rotation-new", "rot.acme.example"));
        using (var delete = await silo.Operator.DeleteAsync(new Uri($"/v1/tenants/acme/certificates/{old.Id}", UriKind.Relative)))
        {
            Assert.True(delete.IsSuccessStatusCode, await delete.Content.ReadAsStringAsync());
        }

        await WaitForDtlsAsync(gateway, d => d.FindById(tenantId) is { } t
            && t.Settings.CertificatePems.Count == 1
            && gateway.Store.Current.BySlug["acme"].Source.Certificates is [{ } only]
            && only.Id == replacement.Id);

        await live.WriteLineAsync("after-rotation");
        await live.WaitForTextAsync("after-rotation");
        var fresh = await PeerProcess.ExchangeLineAsync("openssl", arguments, "new-handshake");
        Assert.Contains("CN = rotation-new", fresh, StringComparison.Ordinal);
        Assert.DoesNotContain("rotation-old", fresh, StringComparison.Ordinal);
        Assert.False(live.HasExited);
        Assert.Equal(1, gateway.Registry.All.Count(c => c.Protocol == ConnectionProtocols.Dtls));
    }

    [Theory]
    [InlineData(MessageFramings.LengthPrefix16)]
    [InlineData(MessageFramings.LengthPrefix)]
    public async Task ForwardTcp_LengthPrefixedDatagramsThroughTcpBackend(string framing)
    {
        await using var backend = new TcpEchoBackend();
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig
        {
            Delivery = new DeliveryConfig
            {
                Mode = DeliveryModes.Forward,
                Forward = new ForwardConfig { Host = "127.0.0.1", Port = backend.Port, Protocol = ForwardProtocols.Tcp, MessageFraming = framing },
            },
        });
        var key = RandomNumberGenerator.GetHexString(32);
        await CreatePskAsync(silo, "acme", "dev1", key);
        await using var gateway = await StartGatewayAsync(silo, "acme", t => t.Source.PskIdentities.Count == 1);

        await using var peer = PeerProcess.Start("openssl", $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -psk_identity acme/dev1 -psk {key} -cipher PSK-AES128-GCM-SHA256");
        await peer.WriteLineAsync("framed-one");
        await peer.WaitForTextAsync("framed-one");
        await peer.WriteLineAsync("framed-two");
        await peer.WaitForTextAsync("framed-two");

        // The TCP echo returns the frames as written; unframed they come back as the datagrams sent, with no prefix bytes.
        Assert.Equal(1, backend.Accepted);
        Assert.Contains("\nframed-two\n", peer.Output, StringComparison.Ordinal);
        var listed = await silo.WaitForConnectionAsync("acme", c => c.MessagesOut >= 2);
        Assert.Equal(listed.BytesIn, listed.BytesOut);
    }

    [Fact]
    public async Task WebhookWithoutSecret_HandshakeRefused()
    {
        using var refusals = new RefusalRecorder();
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("hook", new TenantConfig
        {
            Delivery = new DeliveryConfig { Mode = DeliveryModes.Webhook, Webhook = new WebhookConfig { Url = "https://hooks.example/dtls" } },
        });
        var key = RandomNumberGenerator.GetHexString(32);
        await CreatePskAsync(silo, "hook", "dev1", key);
        await using var gateway = await StartGatewayAsync(silo, "hook", t => t.Source.PskIdentities.Count == 1);

        var output = await PeerProcess.ExchangeLineAsync("openssl", $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -psk_identity hook/dev1 -psk {key} -cipher PSK-AES128-GCM-SHA256", "never-echoed", expectEcho: false);

        Assert.DoesNotContain("\nnever-echoed", output, StringComparison.Ordinal);
        Assert.Equal(0, gateway.Registry.Count);
        await refusals.WaitForAsync("hook", "delivery_unavailable", 1);
    }

    [Fact]
    public async Task WebhookDelivery_DatagramsReachTheWebhookAndItsRepliesComeBack()
    {
        const string secret = "whsec-test-0123456789abcdef";
        await using var receiver = await WebhookReceiver.StartAsync(secret);
        receiver.Answer = e => Task.FromResult<(int, string?, string?)>(e.Type == "connect"
            ? (204, null, null)
            : (200, System.Text.Json.JsonSerializer.Serialize(new
            {
                replies = e.Json.GetProperty("messages").EnumerateArray().Select(m => new
                {
                    connectionId = m.GetProperty("connectionId").GetString(),
                    data = m.GetProperty("data").GetString(),
                }),
            }), null));
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("hook", new TenantConfig
        {
            Delivery = new DeliveryConfig { Mode = DeliveryModes.Webhook, Webhook = new WebhookConfig { Url = receiver.Url, Secret = secret } },
        });
        var key = RandomNumberGenerator.GetHexString(32);
        await CreatePskAsync(silo, "hook", "dev1", key);
        await using var gateway = await StartGatewayAsync(silo, "hook", t => t.Source.PskIdentities.Count == 1);

        // The datagram goes to the webhook, and the webhook's answer sends it back: openssl s_client sees its line again.
        var output = await PeerProcess.ExchangeLineAsync("openssl", $"s_client -dtls1_2 -connect 127.0.0.1:{gateway.DtlsPort} -psk_identity hook/dev1 -psk {key} -cipher PSK-AES128-GCM-SHA256", "via-webhook");

        Assert.Contains("\nvia-webhook", output, StringComparison.Ordinal);
        var connect = await receiver.NextAsync("connect");
        Assert.Equal("dtls", connect.Json.GetProperty("protocol").GetString());
        Assert.EndsWith("dev1", connect.Json.GetProperty("tls").GetProperty("pskIdentity").GetString(), StringComparison.Ordinal);
        var messages = await receiver.NextAsync("messages");
        Assert.True(messages.SignatureValid);
        Assert.StartsWith("via-webhook", System.Text.Encoding.UTF8.GetString(messages.Json.GetProperty("messages")[0].GetProperty("data").GetBytesFromBase64()), StringComparison.Ordinal);
    }

    private static TenantConfig ForwardUdp(int port) => new()
    {
        Delivery = new DeliveryConfig
        {
            Mode = DeliveryModes.Forward,
            Forward = new ForwardConfig { Host = "127.0.0.1", Port = port, Protocol = ForwardProtocols.Udp },
        },
    };

    /// <summary>A server certificate whose subject CN differs from its DNS names, so a peer's output shows which one it got.</summary>
    private static Contracts.Internal.CertificateMaterial Material(string commonName, params string[] hostNames)
    {
        using var ca = TestCertificates.CreateCa("Test CA " + commonName);
        using var leaf = TestCertificates.CreateSigned(ca, commonName, server: true, hostNames);
        var chain = leaf.ExportCertificatePem() + "\n" + ca.ExportCertificatePem() + "\n";
        return new(Guid.NewGuid(), hostNames, chain, leaf.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem(), leaf.NotAfter.ToUniversalTime());
    }

    private static async Task<CertificateResponse> UploadCertificateAsync(SiloFixture silo, string slug, Contracts.Internal.CertificateMaterial material)
    {
        using var response = await silo.Operator.PostAsJsonAsync(
            new Uri($"/v1/tenants/{slug}/certificates", UriKind.Relative), new UploadCertificateRequest(Pem: material.CertificateChainPem + material.PrivateKeyPem), PlatformJson.Options);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        // Its names route by SNI once proven; the tests here are about DTLS, so an operator approves them.
        await HostNameApproval.ApproveAsync(silo.Operator, slug, [.. material.HostNames]);
        return (await response.Content.ReadFromJsonAsync<CertificateResponse>(PlatformJson.Options))!;
    }

    private static async Task CreatePskAsync(SiloFixture silo, string slug, string identity, string keyHex)
    {
        using var response = await silo.Operator.PostAsJsonAsync(
            new Uri($"/v1/tenants/{slug}/psk-identities", UriKind.Relative), new CreatePskIdentityRequest(identity, keyHex), PlatformJson.Options);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task<long> CountConnectionsAsync(SiloFixture silo, string slug)
    {
        var page = await silo.Operator.GetFromJsonAsync<Contracts.Tenants.Page<ConnectionResponse>>(
            new Uri($"/v1/tenants/{slug}/connections?state=all", UriKind.Relative), PlatformJson.Options);
        return page!.Total;
    }

    /// <summary>Starts a gateway and waits until the tenant is served with what the test set up, DTLS listener included.</summary>
    private static async Task<TestGateway> StartGatewayAsync(
        SiloFixture silo, string slug, Func<Platform.Gateway.Tenants.TenantRuntime, bool> ready, IDictionary<string, string?>? settings = null)
    {
        var gateway = await silo.StartGatewayAsync(settings: settings);
        try
        {
            await gateway.WaitForTenantAsync(slug);
            await gateway.WaitForSnapshotAsync(s => s.BySlug.TryGetValue(slug, out var t) && ready(t));
            var id = gateway.Store.Current.BySlug[slug].Id.ToString();
            await WaitForDtlsAsync(gateway, d => d.FindById(id) is { } t
                && t.Settings.CertificatePems.Count == gateway.Store.Current.BySlug[slug].Source.Certificates.Count
                && t.Settings.PreSharedKeys.Count == gateway.Store.Current.BySlug[slug].Source.PskIdentities.Count);
            return gateway;
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits until the shared DTLS listener's tenant directory satisfies <paramref name="condition"/>.</summary>
    private static async Task WaitForDtlsAsync(TestGateway gateway, Func<Platform.Gateway.Dtls.Tenants.DtlsTenantDirectory, bool> condition)
    {
        var server = gateway.Services.GetRequiredService<DtlsListeners>().Shared!;
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!condition(server.Tenants))
        {
            await Task.Delay(20, limit.Token);
        }
    }

    private string WriteTemp(string text)
    {
        var path = Path.Combine(Path.GetTempPath(), $"dtls-e2e-{Guid.NewGuid():N}.pem");
        File.WriteAllText(path, text);
        _files.Add(path);
        return path;
    }
}
