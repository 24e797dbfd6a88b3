using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Security;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Platform.Contracts;
using Platform.Contracts.Certificates;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Contracts.Tenants;
using Platform.Gateway.Tcp;
using Platform.Gateway.Tests.Support;
using Platform.Testing;
using static Platform.Gateway.Tests.Support.TlsTenantSetup;

namespace Platform.Gateway.Tests.EndToEnd;

/// <summary>
/// wss, SNI-routed raw TLS, mutual TLS and dedicated ports against a real silo and PostgreSQL, on real
/// sockets, with certificates uploaded through the REST API and checked with <c>openssl s_client</c>.
/// </summary>
public sealed class TlsEndToEndTests
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Wss_TwoTenantsWithOwnCertificates_SniPicksEachAndEchoWorks()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await silo.CreateTenantAsync("beta");
        var acme = await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        var beta = await UploadServerCertificateAsync(silo, "beta", "beta.platform.test");
        await using var gateway = await silo.StartGatewayAsync();
        await WaitForCertificatesAsync(gateway, "acme", 1);
        await WaitForCertificatesAsync(gateway, "beta", 1);

        await using (var seen = await OpenSslClient.HandshakeAsync(gateway.WssEndPoint, "acme.platform.test"))
        {
            using var served = seen.ServerCertificate;
            Assert.True(served is not null, seen.Transcript);
            Assert.Equal(acme.Thumbprint, TestCertificates.Thumbprint(served.RawData));
            Assert.Equal("CN=acme.platform.test", served.Subject);
        }

        await using (var seen = await OpenSslClient.HandshakeAsync(gateway.WssEndPoint, "beta.platform.test"))
        {
            using var served = seen.ServerCertificate;
            Assert.True(served is not null, seen.Transcript);
            Assert.Equal(beta.Thumbprint, TestCertificates.Thumbprint(served.RawData));
            Assert.Equal("CN=beta.platform.test", served.Subject);
        }

        using var client = await ConnectWssAsync(gateway, "beta.platform.test", "/socket", beta.Thumbprint);
        await WsClient.SendTextAsync(client, "over wss");
        Assert.Equal("over wss", await WsClient.ReceiveTextAsync(client));
        var listed = await silo.WaitForConnectionAsync("beta", c => c.MessagesIn >= 1);
        Assert.Equal(ConnectionProtocols.Wss, listed.Protocol);
        Assert.Equal("beta.platform.test", listed.Tls!.Sni);
        Assert.Equal("/socket", listed.WebSocket!.Path);
    }

    [Fact]
    public async Task Tls_SniRoutedEcho_DataComesBackAndDirectoryShowsTls()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await silo.CreateTenantAsync("beta");
        var acme = await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        var beta = await UploadServerCertificateAsync(silo, "beta", "beta.platform.test");
        await using var gateway = await silo.StartGatewayAsync();
        await WaitForCertificatesAsync(gateway, "acme", 1);
        await WaitForCertificatesAsync(gateway, "beta", 1);

        await using var a = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "acme.platform.test");
        await using var b = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "beta.platform.test");
        Assert.Equal(acme.Thumbprint, a.ServerThumbprint);
        Assert.Equal(beta.Thumbprint, b.ServerThumbprint);
        Assert.Equal("hello acme\n", await a.EchoAsync("hello acme\n"));
        Assert.Equal("hello beta\n", await b.EchoAsync("hello beta\n"));

        var listed = await silo.WaitForConnectionAsync("acme", c => c.BytesIn >= 11);
        Assert.Equal(ConnectionProtocols.Tls, listed.Protocol);
        Assert.Equal(gateway.Listeners.TlsPort, listed.LocalPort);
        Assert.Equal("acme.platform.test", listed.Tls!.Sni);
        Assert.Null(listed.Tls.ClientCertificateSubject);

        // openssl s_client as the client too: the line comes back through the gateway.
        await using var openssl = OpenSslClient.Start(gateway.TlsEndPoint, "acme.platform.test", "-quiet");
        await openssl.WriteAsync("from openssl\n");
        await openssl.WaitForOutputAsync("from openssl");
    }

    [Fact]
    public async Task Tls_RestSendAndDisconnect_ReachTheTlsClient()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        await using var gateway = await silo.StartGatewayAsync();
        await WaitForCertificatesAsync(gateway, "acme", 1);
        await gateway.WaitRegisteredAsync();
        await using var client = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "acme.platform.test");
        var listed = await silo.WaitForConnectionAsync("acme", c => c.Protocol == ConnectionProtocols.Tls);

        using (var send = await silo.Operator.PostAsJsonAsync(
            new Uri($"/v1/tenants/acme/connections/{listed.Id}/messages", UriKind.Relative), new SendMessageRequest(Text: "from rest\n"), PlatformJson.Options))
        {
            Assert.True(send.IsSuccessStatusCode, await send.Content.ReadAsStringAsync());
        }

        Assert.Equal("from rest\n", await client.ReadAsync("from rest\n".Length));

        using (var disconnect = await silo.Operator.PostAsJsonAsync(
            new Uri($"/v1/tenants/acme/connections/{listed.Id}/disconnect", UriKind.Relative), new DisconnectRequest(Reason: "bye"), PlatformJson.Options))
        {
            Assert.True(disconnect.IsSuccessStatusCode, await disconnect.Content.ReadAsStringAsync());
        }

        Assert.True(await client.IsRefusedAsync(), "the TLS client is still connected after the REST disconnect");
        var closed = await silo.WaitForConnectionAsync("acme", c => c.Id == listed.Id, state: "closed");
        Assert.Equal("bye", closed.CloseReason);
    }

    [Fact]
    public async Task Tls_WildcardCertificate_EveryNameUnderItRoutesToTheTenant()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await silo.CreateTenantAsync("beta");
        var wildcard = await UploadServerCertificateAsync(silo, "acme", "*.devices.acme.example");
        await HostNameApproval.ApproveAsync(silo.Operator, "acme", "*.devices.acme.example");
        await UploadServerCertificateAsync(silo, "beta", "beta.platform.test");
        await using var gateway = await silo.StartGatewayAsync();
        await WaitForCertificatesAsync(gateway, "acme", 1);
        await WaitForCertificatesAsync(gateway, "beta", 1);

        await using var client = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "d17.devices.acme.example");
        Assert.Equal(wildcard.Thumbprint, client.ServerThumbprint);
        Assert.Equal("wildcard\n", await client.EchoAsync("wildcard\n"));
        var listed = await silo.WaitForConnectionAsync("acme", c => c.BytesIn > 0);
        Assert.Equal("d17.devices.acme.example", listed.Tls!.Sni);

        await using (var seen = await OpenSslClient.HandshakeAsync(gateway.WssEndPoint, "other.devices.acme.example"))
        {
            using var served = seen.ServerCertificate;
            Assert.True(served is not null, seen.Transcript);
            Assert.Equal(wildcard.Thumbprint, TestCertificates.Thumbprint(served.RawData));
        }

        // Plain ws routes by the Host header through the same wildcard.
        var (status, _, _) = await RawHttp.UpgradeAsync(gateway.WsEndPoint, "d18.devices.acme.example", "/");
        Assert.Equal(101, status);
        var (deeperStatus, _, _) = await RawHttp.UpgradeAsync(gateway.WsEndPoint, "a.b.devices.acme.example", "/");
        Assert.Equal(404, deeperStatus);

        // A wildcard covers one label only, and not the parent name itself.
        await using (var deeper = await OpenSslClient.HandshakeAsync(gateway.TlsEndPoint, "a.b.devices.acme.example"))
        {
            Assert.Null(deeper.ServerCertificate);
        }

        await using (var parent = await OpenSslClient.HandshakeAsync(gateway.TlsEndPoint, "devices.acme.example"))
        {
            Assert.Null(parent.ServerCertificate);
        }
    }

    [Fact]
    public async Task Tls_ForwardWithLineFraming_ReachesTcpBackendAndComesBack()
    {
        await using var backend = new TcpEchoBackend();
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig
        {
            Framing = new FramingConfig { Mode = FramingModes.Line, Eol = "\n" },
            Delivery = new DeliveryConfig
            {
                Mode = DeliveryModes.Forward,
                Forward = new ForwardConfig { Host = "127.0.0.1", Port = backend.Port },
            },
        });
        await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        await using var gateway = await silo.StartGatewayAsync();
        await WaitForCertificatesAsync(gateway, "acme", 1);

        await using var client = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "acme.platform.test");
        await WaitUntilAsync(() => backend.Accepted == 1, "the backend connection");

        // A line split across writes is delivered once complete; two lines in one write are two messages.
        await client.WriteAsync("first li");
        await client.WriteAsync("ne\nsecond\nthird\n");
        Assert.Equal("first line\nsecond\nthird\n", await client.ReadAsync("first line\nsecond\nthird\n".Length));

        var listed = await silo.WaitForConnectionAsync("acme", c => c.MessagesIn >= 3);
        Assert.Equal(3, listed.MessagesIn);
        Assert.Equal(ConnectionProtocols.Tls, listed.Protocol);
    }

    [Fact]
    public async Task Tls_BadInput_RefusedAndCountedWhileAnotherTenantsConnectionStaysUp()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        await using var gateway = await silo.StartGatewayAsync();
        await WaitForCertificatesAsync(gateway, "acme", 1);
        using var refusals = new RefusalRecorder(gateway);
        await using var live = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "acme.platform.test");
        Assert.Equal("before\n", await live.EchoAsync("before\n"));

        // A ClientHello without SNI: a handshake failure alert from openssl's point of view, counted.
        await using (var noSni = await OpenSslClient.HandshakeAsync(gateway.TlsEndPoint, serverName: null))
        {
            Assert.NotEqual(0, noSni.ExitCode);
            Assert.Null(noSni.ServerCertificate);
            Assert.Contains("alert handshake failure", noSni.Error, StringComparison.Ordinal);
        }

        await refusals.WaitForAsync("", "tls_failed", 1);

        // A name that no tenant serves.
        await using (var unknown = await OpenSslClient.HandshakeAsync(gateway.TlsEndPoint, "nobody.platform.test"))
        {
            Assert.NotEqual(0, unknown.ExitCode);
            Assert.Null(unknown.ServerCertificate);
            Assert.Contains("unrecognized name", unknown.Error, StringComparison.Ordinal);
        }

        await refusals.WaitForAsync("", "unknown_tenant", 1);

        // Plain bytes on the TLS port: closed, and counted as a failed handshake.
        await TlsClient.AssertServerClosesAsync(gateway.TlsEndPoint, Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: acme\r\n\r\n"));
        await refusals.WaitForAsync("", "tls_failed", 2);

        // .NET's client without SNI as well.
        await Assert.ThrowsAnyAsync<Exception>(async () => await TlsClient.ConnectAsync(gateway.TlsEndPoint, serverName: null));

        Assert.Equal("after\n", await live.EchoAsync("after\n"));
        Assert.Equal(1, gateway.Registry.Count);
    }

    [Fact]
    public async Task MutualTls_CertificateFromTenantCa_AcceptedAndRecordedInDirectory()
    {
        using var clientCa = TestCertificates.CreateCa("Acme Devices CA");
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig
        {
            Tls = new TlsConfig { ClientCertificates = ClientCertificateModes.Required, ClientCaCertificates = clientCa.ExportCertificatePem() },
        });
        var acmeCertificate = await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        await using var gateway = await silo.StartGatewayAsync();
        await WaitForCertificatesAsync(gateway, "acme", 1);
        using var device = TestCertificates.CreateSigned(clientCa, "device-17", server: false);

        await using var client = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "acme.platform.test", device);
        Assert.Equal("with certificate\n", await client.EchoAsync("with certificate\n"));

        var listed = await silo.WaitForConnectionAsync("acme", c => c.Tls?.ClientCertificateThumbprint is not null);
        Assert.Equal("CN=device-17", listed.Tls!.ClientCertificateSubject);
        Assert.Equal("CN=Acme Devices CA", listed.Tls.ClientCertificateIssuer);
        Assert.Equal(TestCertificates.Thumbprint(device.RawData), listed.Tls.ClientCertificateThumbprint);
        Assert.True(listed.Tls.ClientCertificateAccepted);

        // wss with the same client certificate: the facts reach the directory for WebSocket connections too.
        using (var wss = await ConnectWssAsync(gateway, "acme.platform.test", "/mtls", acmeCertificate.Thumbprint, device))
        {
            await WsClient.SendTextAsync(wss, "wss with certificate");
            Assert.Equal("wss with certificate", await WsClient.ReceiveTextAsync(wss));
            var viaWss = await silo.WaitForConnectionAsync("acme", c => c.Protocol == ConnectionProtocols.Wss);
            Assert.Equal("CN=device-17", viaWss.Tls!.ClientCertificateSubject);
            Assert.Equal(TestCertificates.Thumbprint(device.RawData), viaWss.Tls.ClientCertificateThumbprint);
        }

        // openssl with the certificate and key in files.
        var directory = Directory.CreateTempSubdirectory("mtls-");
        try
        {
            var certFile = Path.Combine(directory.FullName, "device.pem");
            var keyFile = Path.Combine(directory.FullName, "device.key");
            await File.WriteAllTextAsync(certFile, device.ExportCertificatePem());
            await File.WriteAllTextAsync(keyFile, device.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
            await using var openssl = OpenSslClient.Start(gateway.TlsEndPoint, "acme.platform.test", "-quiet", "-cert", certFile, "-key", keyFile);
            await openssl.WriteAsync("openssl with certificate\n");
            await openssl.WaitForOutputAsync("openssl with certificate");
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task MutualTls_CertificateFromIntermediateUnderTenantCa_AcceptedWhenTheClientSendsTheChain()
    {
        using var root = TestCertificates.CreateCa("Acme Root CA");
        using var intermediate = TestCertificates.CreateIntermediate(root, "Acme Issuing CA");
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig
        {
            Tls = new TlsConfig { ClientCertificates = ClientCertificateModes.Required, ClientCaCertificates = root.ExportCertificatePem() },
        });
        await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        await using var gateway = await silo.StartGatewayAsync();
        await WaitForCertificatesAsync(gateway, "acme", 1);
        using var device = TestCertificates.CreateSigned(intermediate, "device-42", server: false);
        using var publicIntermediate = X509CertificateLoader.LoadCertificate(intermediate.RawData);

        await using var client = await TlsClient.ConnectAsync(
            gateway.TlsEndPoint, "acme.platform.test", device, clientChain: [publicIntermediate]);
        Assert.Equal("via intermediate\n", await client.EchoAsync("via intermediate\n"));
        var listed = await silo.WaitForConnectionAsync("acme", c => c.Tls?.ClientCertificateThumbprint is not null);
        Assert.Equal("CN=Acme Issuing CA", listed.Tls!.ClientCertificateIssuer);
        Assert.True(listed.Tls.ClientCertificateAccepted);

        // Without the intermediate the chain cannot reach the tenant's root.
        Assert.True(await RefusedAsync(gateway.TlsEndPoint, "acme.platform.test", device, SslProtocols.Tls13));
    }

    [Theory]
    [InlineData("-tls1_2")]
    [InlineData("-tls1_3")]
    public async Task MutualTls_ResumedSession_StillCarriesTheClientCertificate(string protocol)
    {
        using var clientCa = TestCertificates.CreateCa("Acme Devices CA");
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig
        {
            Tls = new TlsConfig { ClientCertificates = ClientCertificateModes.Required, ClientCaCertificates = clientCa.ExportCertificatePem() },
        });
        await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        await using var gateway = await silo.StartGatewayAsync();
        await WaitForCertificatesAsync(gateway, "acme", 1);
        using var device = TestCertificates.CreateSigned(clientCa, "device-9", server: false);
        var directory = Directory.CreateTempSubdirectory("resume-");
        try
        {
            var certFile = Path.Combine(directory.FullName, "device.pem");
            var keyFile = Path.Combine(directory.FullName, "device.key");
            var session = Path.Combine(directory.FullName, "session.pem");
            await File.WriteAllTextAsync(certFile, device.ExportCertificatePem());
            await File.WriteAllTextAsync(keyFile, device.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
            await using (var first = OpenSslClient.Start(gateway.TlsEndPoint, "acme.platform.test", protocol, "-cert", certFile, "-key", keyFile, "-sess_out", session))
            {
                await first.WriteAsync("alpha-1\n");
                await first.WaitForOutputAsync("alpha-1");
            }

            // The resumed session authenticates with the certificate of the session it resumes.
            await using var second = OpenSslClient.Start(gateway.TlsEndPoint, "acme.platform.test", protocol, "-sess_in", session);
            await second.WriteAsync("bravo-2\n");
            await second.WaitForOutputAsync("bravo-2");
            Assert.Contains("Reused,", second.Output, StringComparison.Ordinal);
            var resumed = await silo.WaitForConnectionAsync("acme", c => c.BytesIn == "bravo-2\n".Length);
            Assert.Equal("CN=device-9", resumed.Tls!.ClientCertificateSubject);
            Assert.Equal(TestCertificates.Thumbprint(device.RawData), resumed.Tls.ClientCertificateThumbprint);
            Assert.True(resumed.Tls.ClientCertificateAccepted);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("-tls1_2")]
    [InlineData("-tls1_3")]
    public async Task MutualTls_SessionOfAnotherTenantOrPolicy_DoesNotResumeAroundTheRequirement(string protocol)
    {
        using var clientCa = TestCertificates.CreateCa("Acme Devices CA");
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig
        {
            Tls = new TlsConfig { ClientCertificates = ClientCertificateModes.Required, ClientCaCertificates = clientCa.ExportCertificatePem() },
        });
        await silo.CreateTenantAsync("open");
        await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        await UploadServerCertificateAsync(silo, "open", "open.platform.test");
        await using var gateway = await silo.StartGatewayAsync();
        await WaitForCertificatesAsync(gateway, "acme", 1);
        await WaitForCertificatesAsync(gateway, "open", 1);
        var directory = Directory.CreateTempSubdirectory("resume-");
        try
        {
            // A session with the tenant that asks for no certificate, offered to the one that requires it.
            var session = Path.Combine(directory.FullName, "session.pem");
            await using (var first = OpenSslClient.Start(gateway.TlsEndPoint, "open.platform.test", protocol, "-sess_out", session))
            {
                await first.WriteAsync("alpha-1\n");
                await first.WaitForOutputAsync("alpha-1");
            }

            await using var second = OpenSslClient.Start(gateway.TlsEndPoint, "acme.platform.test", protocol, "-sess_in", session);
            await second.WriteAsync("bravo-2\n");
            await second.WaitForExitAsync();
            Assert.DoesNotContain("Reused,", second.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("bravo-2", second.Output, StringComparison.Ordinal);
            Assert.DoesNotContain(gateway.Registry.All, c => c.Tenant.Slug == "acme");
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("-tls1_2")]
    [InlineData("-tls1_3")]
    public async Task MutualTls_TurnedOnLater_SessionFromBeforeDoesNotResumeWithoutCertificate(string protocol)
    {
        using var clientCa = TestCertificates.CreateCa("Acme Devices CA");
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        await using var gateway = await silo.StartGatewayAsync();
        await WaitForCertificatesAsync(gateway, "acme", 1);
        var directory = Directory.CreateTempSubdirectory("resume-");
        try
        {
            var session = Path.Combine(directory.FullName, "session.pem");
            await using (var first = OpenSslClient.Start(gateway.TlsEndPoint, "acme.platform.test", protocol, "-sess_out", session))
            {
                await first.WriteAsync("alpha-1\n");
                await first.WaitForOutputAsync("alpha-1");
            }

            await ReplaceConfigAsync(silo, "acme", new TenantConfig
            {
                Tls = new TlsConfig { ClientCertificates = ClientCertificateModes.Required, ClientCaCertificates = clientCa.ExportCertificatePem() },
            });
            await gateway.WaitForSnapshotAsync(s => s.BySlug["acme"].Config.Tls.ClientCertificates == ClientCertificateModes.Required);

            await using var second = OpenSslClient.Start(gateway.TlsEndPoint, "acme.platform.test", protocol, "-sess_in", session);
            await second.WriteAsync("bravo-2\n");
            await second.WaitForExitAsync();
            Assert.DoesNotContain("bravo-2", second.Output, StringComparison.Ordinal);
            Assert.DoesNotContain(gateway.Registry.All, c => c.Tenant.Slug == "acme");
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task MutualTls_CertificateFromAnotherCaOrNone_Rejected()
    {
        using var clientCa = TestCertificates.CreateCa("Acme Devices CA");
        using var otherCa = TestCertificates.CreateCa("Someone Else CA");
        await using var silo = await SiloFixture.StartAsync();
        // One slot: a refused handshake must give its MaxConnections slot back.
        await silo.CreateTenantAsync("acme", new TenantConfig
        {
            Limits = new LimitsConfig { MaxConnections = 1 },
            Tls = new TlsConfig { ClientCertificates = ClientCertificateModes.Required, ClientCaCertificates = clientCa.ExportCertificatePem() },
        });
        await silo.CreateTenantAsync("open");
        await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        await UploadServerCertificateAsync(silo, "open", "open.platform.test");
        await using var gateway = await silo.StartGatewayAsync();
        await WaitForCertificatesAsync(gateway, "acme", 1);
        await WaitForCertificatesAsync(gateway, "open", 1);
        using var refusals = new RefusalRecorder(gateway);
        using var stranger = TestCertificates.CreateSigned(otherCa, "intruder", server: false);

        foreach (var protocol in new[] { SslProtocols.Tls12, SslProtocols.Tls13 })
        {
            Assert.True(await RefusedAsync(gateway.TlsEndPoint, "acme.platform.test", stranger, protocol), $"foreign CA over {protocol}");
            Assert.True(await RefusedAsync(gateway.TlsEndPoint, "acme.platform.test", null, protocol), $"no certificate over {protocol}");
        }

        // Four refusals, counted as failed handshakes, or as max_connections when a refused one still held the slot.
        await WaitUntilAsync(
            () => refusals.Count("acme", "tls_failed") + refusals.Count("acme", "max_connections") >= 4,
            $"four refusals counted ({refusals.Describe()})");
        Assert.Equal(0, gateway.Registry.Count);

        // A tenant without mutual TLS is not affected by the other's policy.
        await using var open = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "open.platform.test");
        Assert.Equal("open\n", await open.EchoAsync("open\n"));

        // The single slot is free again once the refused connections have closed.
        using var device = TestCertificates.CreateSigned(clientCa, "device-1", server: false);
        TlsClient? admitted = null;
        await WaitUntilAsync(
            async () =>
            {
                TlsClient candidate;
                try
                {
                    candidate = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "acme.platform.test", device);
                }
                catch (AuthenticationException)
                {
                    // Not admitted (yet): the handshake is refused with an alert.
                    return false;
                }

                if (await candidate.IsRefusedAsync("slot\n"))
                {
                    await candidate.DisposeAsync();
                    return false;
                }

                admitted = candidate;
                return true;
            },
            "the slot held by refused handshakes to be released");
        await using (admitted)
        {
            Assert.Single(gateway.Registry.All, c => c.Tenant.Slug == "acme");
        }
    }

    [Fact]
    public async Task MutualTls_Optional_NoCertificateAcceptedForeignCertificateRefused()
    {
        using var clientCa = TestCertificates.CreateCa("Acme Devices CA");
        using var otherCa = TestCertificates.CreateCa("Someone Else CA");
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig
        {
            Tls = new TlsConfig { ClientCertificates = ClientCertificateModes.Optional, ClientCaCertificates = clientCa.ExportCertificatePem() },
        });
        await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        await using var gateway = await silo.StartGatewayAsync();
        await WaitForCertificatesAsync(gateway, "acme", 1);
        using var device = TestCertificates.CreateSigned(clientCa, "device-5", server: false);
        using var stranger = TestCertificates.CreateSigned(otherCa, "intruder", server: false);

        await using var anonymous = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "acme.platform.test");
        Assert.Equal("anonymous\n", await anonymous.EchoAsync("anonymous\n"));
        await using var known = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "acme.platform.test", device);
        Assert.Equal("known\n", await known.EchoAsync("known\n"));
        Assert.True(await RefusedAsync(gateway.TlsEndPoint, "acme.platform.test", stranger, SslProtocols.Tls13));

        var page = await WaitForOpenConnectionsAsync(silo, "acme", 2);
        Assert.Single(page, c => c.Tls!.ClientCertificateSubject is null && c.Tls.ClientCertificateAccepted is null);
        Assert.Single(page, c => c.Tls!.ClientCertificateSubject == "CN=device-5" && c.Tls.ClientCertificateAccepted == true);
    }

    [Fact]
    public async Task TlsFloor_Tls13Tenant_RefusesTls12AcceptsTls13()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("modern", new TenantConfig { Tls = new TlsConfig { MinProtocol = TlsProtocols.Tls13 } });
        await silo.CreateTenantAsync("classic");
        await UploadServerCertificateAsync(silo, "modern", "modern.platform.test");
        await UploadServerCertificateAsync(silo, "classic", "classic.platform.test");
        await using var gateway = await silo.StartGatewayAsync();
        await WaitForCertificatesAsync(gateway, "modern", 1);
        await WaitForCertificatesAsync(gateway, "classic", 1);

        await using (var old = await OpenSslClient.HandshakeAsync(gateway.TlsEndPoint, "modern.platform.test", "-tls1_2"))
        {
            Assert.NotEqual(0, old.ExitCode);
            Assert.Null(old.ServerCertificate);
        }

        await using (var current = await OpenSslClient.HandshakeAsync(gateway.TlsEndPoint, "modern.platform.test", "-tls1_3"))
        {
            Assert.True(current.ServerCertificate is not null, current.Transcript);
            Assert.Contains("TLSv1.3", current.Output, StringComparison.Ordinal);
        }

        // The default floor still accepts 1.2, on the wss port as well.
        await using (var classic = await OpenSslClient.HandshakeAsync(gateway.WssEndPoint, "classic.platform.test", "-tls1_2"))
        {
            Assert.True(classic.ServerCertificate is not null, classic.Transcript);
            Assert.Contains("TLSv1.2", classic.Output, StringComparison.Ordinal);
        }

        await using (var wss = await OpenSslClient.HandshakeAsync(gateway.WssEndPoint, "modern.platform.test", "-tls1_2"))
        {
            Assert.Null(wss.ServerCertificate);
        }
    }

    [Fact]
    public async Task CipherSuites_TenantPolicy_OnlyListedSuitesNegotiated()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig
        {
            Tls = new TlsConfig { CipherSuites = ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256"] },
        });
        await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        await using var gateway = await silo.StartGatewayAsync();
        await WaitForCertificatesAsync(gateway, "acme", 1);

        await using (var refused = await OpenSslClient.HandshakeAsync(gateway.TlsEndPoint, "acme.platform.test", "-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"))
        {
            Assert.Null(refused.ServerCertificate);
        }

        await using (var refused13 = await OpenSslClient.HandshakeAsync(gateway.TlsEndPoint, "acme.platform.test", "-tls1_3", "-ciphersuites", "TLS_AES_256_GCM_SHA384"))
        {
            Assert.Null(refused13.ServerCertificate);
        }

        await using (var listed12 = await OpenSslClient.HandshakeAsync(gateway.TlsEndPoint, "acme.platform.test", "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"))
        {
            Assert.True(listed12.ServerCertificate is not null, listed12.Transcript);
            Assert.Contains("ECDHE-ECDSA-AES128-GCM-SHA256", listed12.Output, StringComparison.Ordinal);
        }

        await using var client = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "acme.platform.test", protocols: SslProtocols.Tls13);
        Assert.Equal("cipher\n", await client.EchoAsync("cipher\n"));
        var listed = await silo.WaitForConnectionAsync("acme", c => c.BytesIn > 0);
        Assert.Equal(nameof(TlsCipherSuite.TLS_AES_128_GCM_SHA256), listed.Tls!.CipherSuite);
    }

    [Fact]
    public async Task Rotation_ReplaceThenDelete_NewHandshakesSeeNewCertificateOpenConnectionStays()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await silo.CreateTenantAsync("beta");
        var first = await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        var beta = await UploadServerCertificateAsync(silo, "beta", "beta.platform.test");
        await using var gateway = await silo.StartGatewayAsync();
        await WaitForCertificatesAsync(gateway, "acme", 1);
        await WaitForCertificatesAsync(gateway, "beta", 1);
        Assert.Equal(first.Thumbprint, await TlsClient.ServedThumbprintAsync(gateway.TlsEndPoint, "acme.platform.test"));
        await using var before = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "acme.platform.test");
        Assert.Equal("one\n", await before.EchoAsync("one\n"));

        var second = await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        await DeleteCertificateAsync(silo, "acme", first.Id);
        await WaitUntilAsync(
            async () => await TlsClient.ServedThumbprintAsync(gateway.TlsEndPoint, "acme.platform.test") == second.Thumbprint,
            "the replacement certificate on new handshakes");
        await using (var seen = await OpenSslClient.HandshakeAsync(gateway.WssEndPoint, "acme.platform.test"))
        {
            using var served = seen.ServerCertificate;
            Assert.True(served is not null, seen.Transcript);
            Assert.Equal(second.Thumbprint, TestCertificates.Thumbprint(served.RawData));
        }

        Assert.Equal("two\n", await before.EchoAsync("two\n"));

        // Without any certificate the tenant's handshakes fail; the other tenant and the open connection carry on.
        await DeleteCertificateAsync(silo, "acme", second.Id);
        await WaitForCertificatesAsync(gateway, "acme", 0);
        await using (var none = await OpenSslClient.HandshakeAsync(gateway.TlsEndPoint, "acme.platform.test"))
        {
            Assert.NotEqual(0, none.ExitCode);
            Assert.Null(none.ServerCertificate);
        }

        Assert.Equal(beta.Thumbprint, await TlsClient.ServedThumbprintAsync(gateway.TlsEndPoint, "beta.platform.test"));
        Assert.Equal("three\n", await before.EchoAsync("three\n"));
    }

    [Fact]
    public async Task DedicatedPorts_TcpAndTls_EchoWithoutSniAndReleaseClosesListener()
    {
        var (first, last) = FreePorts.Range(4);
        await using var silo = await SiloFixture.StartAsync(SiloPortRange((first, last)));
        await silo.CreateTenantAsync("acme");
        var certificate = await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        await using var gateway = await silo.StartGatewayAsync(settings: GatewayPortRange((first, last)));
        await gateway.WaitForTenantAsync("acme");
        var listeners = (DedicatedPortListeners)gateway.Services.GetService(typeof(DedicatedPortListeners))!;

        var tcp = await AllocatePortAsync(silo, "acme", DedicatedPortProtocols.Tcp);
        var tls = await AllocatePortAsync(silo, "acme", DedicatedPortProtocols.Tls);
        Assert.InRange(tcp.Port, first, last);
        Assert.InRange(tls.Port, first, last);
        await WaitUntilAsync(() => listeners.OpenPorts.Contains(tcp.Port) && listeners.OpenPorts.Contains(tls.Port), "both dedicated listeners");

        using (var plain = new TcpClient())
        {
            await plain.ConnectAsync(IPAddress.Loopback, tcp.Port);
            var stream = plain.GetStream();
            await stream.WriteAsync("plain tcp\n"u8.ToArray());
            var buffer = new byte[10];
            using var limit = new CancellationTokenSource(WaitLimit);
            await stream.ReadExactlyAsync(buffer, limit.Token);
            Assert.Equal("plain tcp\n", Encoding.ASCII.GetString(buffer));
            var listed = await silo.WaitForConnectionAsync("acme", c => c.LocalPort == tcp.Port);
            Assert.Equal(ConnectionProtocols.Tcp, listed.Protocol);
        }

        await using (var secure = await TlsClient.ConnectAsync(new IPEndPoint(IPAddress.Loopback, tls.Port), serverName: null))
        {
            Assert.Equal(certificate.Thumbprint, secure.ServerThumbprint);
            Assert.Equal("dedicated tls\n", await secure.EchoAsync("dedicated tls\n"));
            var listed = await silo.WaitForConnectionAsync("acme", c => c.LocalPort == tls.Port);
            Assert.Equal(ConnectionProtocols.Tls, listed.Protocol);
        }

        await using (var openssl = await OpenSslClient.HandshakeAsync(new IPEndPoint(IPAddress.Loopback, tls.Port), serverName: null))
        {
            using var served = openssl.ServerCertificate;
            Assert.True(served is not null, openssl.Transcript);
            Assert.Equal(certificate.Thumbprint, TestCertificates.Thumbprint(served.RawData));
        }

        using (var release = await silo.Operator.DeleteAsync(new Uri($"/v1/tenants/acme/ports/{tcp.Port}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NoContent, release.StatusCode);
        }

        await WaitUntilAsync(() => !listeners.OpenPorts.Contains(tcp.Port), "the released listener to close");
        using (var refused = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            var error = await Assert.ThrowsAsync<SocketException>(async () => await refused.ConnectAsync(IPAddress.Loopback, tcp.Port));
            Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
        }

        Assert.Contains(tls.Port, listeners.OpenPorts);
    }

    [Fact]
    public async Task Burst_BeyondTheLeasedSlots_EveryTlsAndDedicatedTcpConnectionAdmittedNoneRefused()
    {
        const int Burst = 12;
        var (first, last) = FreePorts.Range(2);
        await using var silo = await SiloFixture.StartAsync(SiloPortRange((first, last)));
        await silo.CreateTenantAsync("acme", new TenantConfig { Limits = new LimitsConfig { MaxConnections = 100 } });
        await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        // One slot per lease round: each burst below outruns what the gateway holds.
        var settings = GatewayPortRange((first, last));
        settings["Platform:LeaseBatch"] = "1";
        await using var gateway = await silo.StartGatewayAsync(settings: settings);
        await WaitForCertificatesAsync(gateway, "acme", 1);
        var listeners = (DedicatedPortListeners)gateway.Services.GetService(typeof(DedicatedPortListeners))!;
        var tcp = await AllocatePortAsync(silo, "acme", DedicatedPortProtocols.Tcp);
        await WaitUntilAsync(() => listeners.OpenPorts.Contains(tcp.Port), "the dedicated listener");
        using var refusals = new RefusalRecorder(gateway);

        var tls = await Task.WhenAll(Enumerable.Range(0, Burst).Select(_ => TlsClient.ConnectAsync(gateway.TlsEndPoint, "acme.platform.test")));
        var plain = await Task.WhenAll(Enumerable.Range(0, Burst).Select(async _ =>
        {
            var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, tcp.Port);
            return client;
        }));
        try
        {
            var echoes = await Task.WhenAll(tls.Select((c, i) => c.EchoAsync($"tls {i}\n")));
            Assert.Equal(Enumerable.Range(0, Burst).Select(i => $"tls {i}\n"), echoes);
            foreach (var (client, i) in plain.Select((c, i) => (c, i)))
            {
                var line = Encoding.ASCII.GetBytes($"tcp {i:D2}\n");
                await client.GetStream().WriteAsync(line);
                var back = new byte[line.Length];
                using var limit = new CancellationTokenSource(WaitLimit);
                await client.GetStream().ReadExactlyAsync(back, limit.Token);
                Assert.Equal(line, back);
            }

            Assert.Equal(0, refusals.Count("acme", "max_connections"));
            await Wait.UntilAsync(async () => (await Wait.ListAsync(silo, "acme")).Count == 2 * Burst, "every connection of the burst listed");
        }
        finally
        {
            foreach (var client in tls)
            {
                await client.DisposeAsync();
            }

            foreach (var client in plain)
            {
                client.Dispose();
            }
        }
    }

    [Fact]
    public async Task SocketOptions_KeepAliveOfTheTenant_OnItsWsWssAndTlsConnectionsOnly()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig { Socket = new SocketConfig { KeepAlive = true, KeepAliveTimeSeconds = 45, KeepAliveIntervalSeconds = 5 } });
        await silo.CreateTenantAsync("beta");
        await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        await using var gateway = await silo.StartGatewayAsync();
        await WaitForCertificatesAsync(gateway, "acme", 1);
        await gateway.WaitForTenantAsync("beta");

        using var ws = await RawWebSocket.ConnectAsync(gateway.WsEndPoint, "acme.platform.test", "/");
        using var plain = await RawWebSocket.ConnectAsync(gateway.WsEndPoint, "beta.platform.test", "/");
        await using var tls = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "acme.platform.test");
        Assert.Equal("up\n", await tls.EchoAsync("up\n"));
        await using var wss = await TlsClient.ConnectAsync(gateway.WssEndPoint, "acme.platform.test");
        await wss.Stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"GET / HTTP/1.1\r\nHost: acme.platform.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {RawHttp.ValidKey}\r\nSec-WebSocket-Version: 13\r\n\r\n"));
        var answer = new byte[12];
        await wss.Stream.ReadExactlyAsync(answer);
        Assert.Equal("HTTP/1.1 101", Encoding.ASCII.GetString(answer));

        // The gateway's side of each connection, as the kernel reports it: a keep-alive timer of at most 45 s.
        // (While sent bytes wait for the client's delayed ACK, ss shows the retransmission timer instead.)
        Assert.Matches(@"timer:\(keepalive,(4[0-5]|[1-3]?\d)sec", await GatewaySideAsync(gateway.WsEndPoint.Port, (IPEndPoint)ws.Socket.LocalEndPoint!, "keepalive"));
        Assert.Matches(@"timer:\(keepalive,", await GatewaySideAsync(gateway.TlsEndPoint.Port, tls.LocalEndPoint, "keepalive"));
        Assert.Matches(@"timer:\(keepalive,", await GatewaySideAsync(gateway.WssEndPoint.Port, wss.LocalEndPoint, "keepalive"));
        // A tenant that leaves keep-alive off gets none.
        var other = await GatewaySideAsync(gateway.WsEndPoint.Port, (IPEndPoint)plain.Socket.LocalEndPoint!);
        Assert.DoesNotContain("keepalive", other, StringComparison.Ordinal);
    }

    /// <summary>
    /// <c>ss</c>'s line for the gateway's socket of one connection (listening port to the client's end), with
    /// timers; asked again for a few seconds while it does not contain <paramref name="until"/>.
    /// </summary>
    private static async Task<string> GatewaySideAsync(int gatewayPort, IPEndPoint client, string? until = null)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (true)
        {
            using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("ss",
                ["-tnoH", "state", "established", $"( sport = :{gatewayPort} and dport = :{client.Port} )"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            var output = await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.True(output.Contains($":{gatewayPort}", StringComparison.Ordinal), $"ss found no gateway socket for {client}: '{output}' {await process.StandardError.ReadToEndAsync()}");
            if (until is null || output.Contains(until, StringComparison.Ordinal) || DateTime.UtcNow > deadline)
            {
                return output;
            }

            await Task.Delay(100);
        }
    }

    [Fact]
    public async Task DedicatedPort_HeldByAnotherProcessAtFirst_OpensOnceFree()
    {
        var range = FreePorts.Range(1);
        await using var silo = await SiloFixture.StartAsync(SiloPortRange(range));
        await silo.CreateTenantAsync("acme");
        await using var gateway = await silo.StartGatewayAsync(settings: GatewayPortRange(range));
        await gateway.WaitForTenantAsync("acme");
        var listeners = (DedicatedPortListeners)gateway.Services.GetService(typeof(DedicatedPortListeners))!;

        var squatter = new TcpListener(IPAddress.Loopback, range.First);
        squatter.Start();
        try
        {
            var port = await AllocatePortAsync(silo, "acme", DedicatedPortProtocols.Tcp);
            Assert.Equal(range.First, port.Port);
            await gateway.WaitForSnapshotAsync(s => s.ByPort.ContainsKey(port.Port));
            Assert.DoesNotContain(port.Port, listeners.OpenPorts);
        }
        finally
        {
            squatter.Stop();
        }

        // No further config change: the gateway retries the bind on its own.
        await WaitUntilAsync(() => listeners.OpenPorts.Contains(range.First), "the dedicated port to open once free");
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, range.First);
        var stream = client.GetStream();
        await stream.WriteAsync("freed\n"u8.ToArray());
        var buffer = new byte[6];
        using var limit = new CancellationTokenSource(WaitLimit);
        await stream.ReadExactlyAsync(buffer, limit.Token);
        Assert.Equal("freed\n", Encoding.ASCII.GetString(buffer));
    }

    [Fact]
    public async Task BrokenCertificate_OnlyItsTenantsHandshakesFail()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await silo.CreateTenantAsync("beta");
        var acme = await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        var beta = await UploadServerCertificateAsync(silo, "beta", "beta.platform.test");

        // Expired or foreign material cannot pass upload validation, so the stored chain is damaged at rest:
        // it now holds a certificate that does not match the stored private key.
        using var unrelatedCa = TestCertificates.CreateCa("Unrelated");
        using var unrelated = TestCertificates.CreateSigned(unrelatedCa, "acme.platform.test", server: true, "acme.platform.test");
        await using (var data = silo.Database.CreateDataSource())
        {
            await using var command = data.CreateCommand("UPDATE certificates SET chain_pem = $1 WHERE id = $2");
            command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = unrelated.ExportCertificatePem() + "\n" });
            command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = acme.Id });
            Assert.Equal(1, await command.ExecuteNonQueryAsync());
        }

        await using var gateway = await silo.StartGatewayAsync();
        var snapshot = await gateway.WaitForSnapshotAsync(s => s.BySlug.ContainsKey("acme") && s.BySlug.ContainsKey("beta"));
        Assert.NotNull(snapshot.BySlug["acme"].TlsError);
        await WaitForCertificatesAsync(gateway, "beta", 1);

        await using (var broken = await OpenSslClient.HandshakeAsync(gateway.TlsEndPoint, "acme.platform.test"))
        {
            Assert.NotEqual(0, broken.ExitCode);
            Assert.Null(broken.ServerCertificate);
        }

        await using (var brokenWss = await OpenSslClient.HandshakeAsync(gateway.WssEndPoint, "acme.platform.test"))
        {
            Assert.Null(brokenWss.ServerCertificate);
        }

        await using var fine = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "beta.platform.test");
        Assert.Equal(beta.Thumbprint, fine.ServerThumbprint);
        Assert.Equal("fine\n", await fine.EchoAsync("fine\n"));

        // ws (no TLS) still reaches the tenant whose certificate is broken.
        using var ws = await WsClient.ConnectAsync(gateway.WsUri("acme"));
        await WsClient.SendTextAsync(ws, "plain");
        Assert.Equal("plain", await WsClient.ReceiveTextAsync(ws));
    }

    [Fact]
    public async Task HandshakeTimeout_GlobalCap_ClosesSilentClientsAndCapsTheTenantsTimeout()
    {
        var range = FreePorts.Range(4);
        await using var silo = await SiloFixture.StartAsync(SiloPortRange(range));
        await silo.CreateTenantAsync("acme", new TenantConfig { Timeouts = new TimeoutsConfig { HandshakeTimeoutSeconds = 300 } });
        await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        var settings = GatewayPortRange(range);
        settings["Platform:TlsHandshakeTimeoutSeconds"] = "2";
        await using var gateway = await silo.StartGatewayAsync(settings: settings);
        await WaitForCertificatesAsync(gateway, "acme", 1);
        using var refusals = new RefusalRecorder(gateway);
        var dedicated = await AllocatePortAsync(silo, "acme", DedicatedPortProtocols.Tls);
        var listeners = (DedicatedPortListeners)gateway.Services.GetService(typeof(DedicatedPortListeners))!;
        await WaitUntilAsync(() => listeners.OpenPorts.Contains(dedicated.Port), "the dedicated TLS listener");

        // Nothing after the TCP connect: no tenant is known, the gateway's cap closes the connection.
        await TlsClient.AssertServerClosesAsync(gateway.TlsEndPoint);
        await TlsClient.AssertServerClosesAsync(gateway.WssEndPoint);
        await refusals.WaitForAsync("", "tls_failed", 2);

        // The tenant allows 300 s; the cap wins on the SNI port and on its dedicated port.
        await TlsClient.AssertServerClosesAsync(gateway.TlsEndPoint, await TlsClient.CaptureClientHelloAsync("acme.platform.test"));
        await TlsClient.AssertServerClosesAsync(new IPEndPoint(IPAddress.Loopback, dedicated.Port));
        await refusals.WaitForAsync("acme", "tls_failed", 2);

        await using var client = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "acme.platform.test");
        Assert.Equal("served\n", await client.EchoAsync("served\n"));
    }

    [Fact]
    public async Task HandshakeTimeout_TenantTimeoutAppliesOnTheSniPort()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig { Timeouts = new TimeoutsConfig { HandshakeTimeoutSeconds = 1 } });
        await silo.CreateTenantAsync("slow");
        var acme = await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        await UploadServerCertificateAsync(silo, "slow", "slow.platform.test");

        // The global cap is far beyond the wait limit, so only the tenant's own timeout can close the client in time.
        await using var gateway = await silo.StartGatewayAsync(settings: new Dictionary<string, string?>
        {
            ["Platform:TlsHandshakeTimeoutSeconds"] = "120",
        });
        await WaitForCertificatesAsync(gateway, "acme", 1);
        await WaitForCertificatesAsync(gateway, "slow", 1);
        using var refusals = new RefusalRecorder(gateway);
        var hello = await TlsClient.CaptureClientHelloAsync("acme.platform.test");

        // The ClientHello, then silence: the server's flight is answered by nothing.
        await TlsClient.AssertServerClosesAsync(gateway.TlsEndPoint, hello);
        await TlsClient.AssertServerClosesAsync(gateway.WssEndPoint, hello);
        await refusals.WaitForAsync("acme", "tls_failed", 2);

        // A tenant on the default timeout (20 s, under the cap) is still open when the first one is closed.
        var slowHello = await TlsClient.CaptureClientHelloAsync("slow.platform.test");
        using var slow = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await slow.ConnectAsync(gateway.TlsEndPoint);
        await slow.SendAsync(slowHello, SocketFlags.None);
        await TlsClient.AssertServerClosesAsync(gateway.TlsEndPoint, hello);
        Assert.True(IsOpen(slow), "the default-timeout tenant's half-done handshake was closed early");

        // Completed handshakes of the short-timeout tenant are not cut by its timer afterwards (raw TLS and wss).
        await using var client = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "acme.platform.test");
        using var wss = await ConnectWssAsync(gateway, "acme.platform.test", "/", acme.Thumbprint);
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal("still here\n", await client.EchoAsync("still here\n"));
        await WsClient.SendTextAsync(wss, "wss still here");
        Assert.Equal("wss still here", await WsClient.ReceiveTextAsync(wss));
    }

    private static bool IsOpen(Socket socket)
    {
        // Readable with nothing to read means closed; the server's first flight may be waiting unread.
        if (!socket.Poll(0, SelectMode.SelectRead))
        {
            return true;
        }

        var buffer = new byte[16 * 1024];
        while (socket.Available > 0)
        {
            if (socket.Receive(buffer) == 0)
            {
                return false;
            }
        }

        return !socket.Poll(0, SelectMode.SelectRead);
    }

    /// <summary>wss to the gateway's port with SNI <paramref name="host"/>, accepting only the certificate expected for it.</summary>
    private static async Task<ClientWebSocket> ConnectWssAsync(
        TestGateway gateway, string host, string path, string expectedThumbprint, X509Certificate2? clientCertificate = null)
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
                ClientCertificateContext = clientCertificate is null ? null : SslStreamCertificateContext.Create(clientCertificate, null, offline: true),
            },
        };
        var socket = new ClientWebSocket();
        using var limit = new CancellationTokenSource(WaitLimit);
        using var invoker = new HttpMessageInvoker(handler);
        await socket.ConnectAsync(new Uri($"wss://{host}:{gateway.Listeners.WssPort}{path}"), invoker, limit.Token);
        return socket;
    }

    private static async Task<IReadOnlyList<ConnectionResponse>> WaitForOpenConnectionsAsync(SiloFixture silo, string slug, int count)
    {
        IReadOnlyList<ConnectionResponse> items = [];
        await WaitUntilAsync(
            async () =>
            {
                var page = await silo.Operator.GetFromJsonAsync<Page<ConnectionResponse>>(
                    new Uri($"/v1/tenants/{slug}/connections?state=open", UriKind.Relative), PlatformJson.Options);
                items = page!.Items;
                return items.Count == count;
            },
            $"{count} open connections of {slug} in the directory");
        return items;
    }

    private static async Task<bool> RefusedAsync(IPEndPoint server, string serverName, X509Certificate2? certificate, SslProtocols protocol)
    {
        TlsClient client;
        try
        {
            client = await TlsClient.ConnectAsync(server, serverName, certificate, protocol);
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            return true;
        }

        // TLS 1.3 finishes the client's side of the handshake before the server has judged its certificate.
        await using (client)
        {
            return await client.IsRefusedAsync();
        }
    }

    private static async Task DeleteCertificateAsync(SiloFixture silo, string slug, Guid id)
    {
        using var response = await silo.Operator.DeleteAsync(new Uri($"/v1/tenants/{slug}/certificates/{id}", UriKind.Relative));
        Assert.True(response.StatusCode == HttpStatusCode.NoContent, $"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    private static Task WaitUntilAsync(Func<bool> condition, string what) =>
        WaitUntilAsync(() => Task.FromResult(condition()), what);

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        using var limit = new CancellationTokenSource(WaitLimit);
        while (!await condition())
        {
            try
            {
                await Task.Delay(50, limit.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"Timed out after {WaitLimit.TotalSeconds} s waiting for {what}.");
            }
        }
    }

}
