using System.Net;
using System.Security.Authentication;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts.Config;
using Platform.Contracts.Tenants;
using Platform.Gateway.Admission;
using Platform.Gateway.Tcp;
using Platform.Gateway.Tests.Support;
using Platform.Gateway.Tls;
using Platform.Testing;
using static Platform.Gateway.Tests.Support.TlsTenantSetup;

namespace Platform.Gateway.Tests.EndToEnd;

/// <summary>
/// Clients that open TLS handshakes and never finish them, against a real silo and gateway on real sockets: what they
/// may hold (half-open caps of the tenant and of the gateway, MaxConnections slots) and for how long.
/// </summary>
public sealed class HandshakeFloodTests
{
    private static readonly IPAddress One = IPAddress.Parse("127.0.0.1");
    private static readonly IPAddress Two = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress Three = IPAddress.Parse("127.0.0.3");
    private static readonly IPAddress Four = IPAddress.Parse("127.0.0.4");

    /// <summary>Long enough that no stalled handshake of a test ends before the test does.</summary>
    private static readonly Dictionary<string, string?> LongHandshakes = new()
    {
        ["Platform:TlsHandshakeTimeoutSeconds"] = "120",
        ["Platform:RequestHeadersTimeoutSeconds"] = "120",
    };

    [Fact]
    public async Task StalledHandshakes_HoldingMaxConnections_ARealClientGetsInOnceTheHandshakeTimeoutEndsThem()
    {
        var range = FreePorts.Range(2);
        await using var silo = await SiloFixture.StartAsync(SiloPortRange(range));
        await silo.CreateTenantAsync("acme", new TenantConfig
        {
            Limits = new LimitsConfig { MaxConnections = 2 },
            Timeouts = new TimeoutsConfig { HandshakeTimeoutSeconds = 6 },
        });
        await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        await using var gateway = await silo.StartGatewayAsync(settings: GatewayPortRange(range));
        await WaitForCertificatesAsync(gateway, "acme", 1);
        var dedicated = await AllocatePortAsync(silo, "acme", DedicatedPortProtocols.Tls);
        var ports = gateway.Services.GetRequiredService<DedicatedPortListeners>();
        await Wait.UntilAsync(() => ports.OpenPorts.Contains(dedicated.Port), "the dedicated TLS listener");
        var tenantId = gateway.Store.Current.BySlug["acme"].Id;
        var leases = gateway.Services.GetRequiredService<LeaseManager>();
        var halfOpen = gateway.Services.GetRequiredService<HalfOpenCounter>();
        var hello = await TlsClient.CaptureClientHelloAsync("acme.platform.test");
        using var refusals = new RefusalRecorder(gateway);

        foreach (var endPoint in new[] { gateway.TlsEndPoint, new IPEndPoint(IPAddress.Loopback, dedicated.Port) })
        {
            // Two clients send their ClientHello and never answer the server's flight; each holds one of the two slots.
            using var first = await StalledHandshake.StartAsync(endPoint, hello, One);
            using var second = await StalledHandshake.StartAsync(endPoint, hello, Two);
            await first.AssertTakenOnAsync();
            await second.AssertTakenOnAsync();
            Assert.Equal(2, leases.Get(tenantId).InUse);
            await Assert.ThrowsAnyAsync<Exception>(async () => await TlsClient.ConnectAsync(endPoint, "acme.platform.test", source: Three));

            // The tenant's handshake timeout ends both, and their slots come back with them.
            await first.AssertClosedAsync();
            await second.AssertClosedAsync();
            await Wait.UntilAsync(() => leases.Get(tenantId).InUse == 0 && halfOpen.ForTenant(tenantId) == 0, "the stalled handshakes' slots to come back");
            await using (var client = await TlsClient.ConnectAsync(endPoint, "acme.platform.test", source: Three))
            {
                Assert.Equal("in\n", await client.EchoAsync("in\n"));
            }

            await Wait.UntilAsync(() => gateway.Registry.Count == 0 && leases.Get(tenantId).InUse == 0, "the real client's slot to come back");
        }

        await refusals.WaitForAsync("acme", "max_connections", 2);
        await refusals.WaitForAsync("acme", "tls_failed", 4);
    }

    [Fact]
    public async Task TenantPerClientCap_NPlusOneStalledHandshakeFromOneAddressRefusedWhileOtherAddressesAreServed()
    {
        await using var silo = await SiloFixture.StartAsync();
        var limits = new LimitsConfig { MaxHalfOpenHandshakesPerClient = 2 };
        await silo.CreateTenantAsync("acme", new TenantConfig { Limits = limits, Timeouts = new TimeoutsConfig { HandshakeTimeoutSeconds = 120 } });
        await silo.CreateTenantAsync("beta", new TenantConfig { Limits = limits, Timeouts = new TimeoutsConfig { HandshakeTimeoutSeconds = 120 } });
        await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        await UploadServerCertificateAsync(silo, "beta", "beta.platform.test");
        await using var gateway = await silo.StartGatewayAsync(settings: LongHandshakes);
        await WaitForCertificatesAsync(gateway, "acme", 1);
        await WaitForCertificatesAsync(gateway, "beta", 1);
        var acmeId = gateway.Store.Current.BySlug["acme"].Id;
        var halfOpen = gateway.Services.GetRequiredService<HalfOpenCounter>();
        var hello = await TlsClient.CaptureClientHelloAsync("acme.platform.test");
        using var refusals = new RefusalRecorder(gateway);

        // Two stalled handshakes from one address, over the TLS and the wss port: the tenant's count covers both.
        using var first = await StalledHandshake.StartAsync(gateway.TlsEndPoint, hello, One);
        using var second = await StalledHandshake.StartAsync(gateway.WssEndPoint, hello, One);
        await first.AssertTakenOnAsync();
        await second.AssertTakenOnAsync();

        // The third from that address is refused with an alert on either port.
        using (var third = await StalledHandshake.StartAsync(gateway.TlsEndPoint, hello, One))
        {
            await third.AssertRefusedAsync(TlsAlert.HandshakeFailure);
        }

        using (var fourth = await StalledHandshake.StartAsync(gateway.WssEndPoint, hello, One))
        {
            await fourth.AssertRefusedAsync(TlsAlert.HandshakeFailure);
        }

        await refusals.WaitForAsync("acme", "half_open_limit", 2);

        // Other addresses are not held back, stalled or real; nor is another tenant from the same address.
        using var other = await StalledHandshake.StartAsync(gateway.TlsEndPoint, hello, Two);
        await other.AssertTakenOnAsync();
        await using (var real = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "acme.platform.test", source: Three))
        {
            Assert.Equal("served\n", await real.EchoAsync("served\n"));
        }

        using var beta = await StalledHandshake.StartAsync(gateway.TlsEndPoint, await TlsClient.CaptureClientHelloAsync("beta.platform.test"), One);
        await beta.AssertTakenOnAsync();

        // A handshake the client gives up stops counting, and its place is free again.
        first.Dispose();
        await Wait.UntilAsync(() => halfOpen.ForTenant(acmeId) == 2, "the abandoned handshake to stop counting");
        using var again = await StalledHandshake.StartAsync(gateway.TlsEndPoint, hello, One);
        await again.AssertTakenOnAsync();
    }

    [Fact]
    public async Task Wss_HandshakeDoneButNoUpgradeRequest_CountsAsHalfOpenUntilTheRequestIsRead()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig { Limits = new LimitsConfig { MaxHalfOpenHandshakesPerClient = 2 } });
        await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        await using var gateway = await silo.StartGatewayAsync(settings: LongHandshakes);
        await WaitForCertificatesAsync(gateway, "acme", 1);
        using var refusals = new RefusalRecorder(gateway);

        // TLS completes, then nothing: no upgrade request, so nothing of the tenant's admission has run yet.
        await using var first = await TlsClient.ConnectAsync(gateway.WssEndPoint, "acme.platform.test", source: Four);
        await using var second = await TlsClient.ConnectAsync(gateway.WssEndPoint, "acme.platform.test", source: Four);
        await Assert.ThrowsAnyAsync<Exception>(async () => await TlsClient.ConnectAsync(gateway.WssEndPoint, "acme.platform.test", source: Four));
        await refusals.WaitForAsync("acme", "half_open_limit", 1);

        // Once the request has been read the connection is no longer half open.
        await first.WriteAsync($"GET / HTTP/1.1\r\nHost: acme.platform.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {RawHttp.ValidKey}\r\nSec-WebSocket-Version: 13\r\n\r\n");
        Assert.Equal("HTTP/1.1 101", await first.ReadAsync(12));
        await using var third = await TlsClient.ConnectAsync(gateway.WssEndPoint, "acme.platform.test", source: Four);
    }

    [Fact]
    public async Task TenantCap_StalledHandshakesOnTheDedicatedPort_BeyondItRefusedAtAcceptOnEveryPortOfTheTenant()
    {
        var range = FreePorts.Range(2);
        await using var silo = await SiloFixture.StartAsync(SiloPortRange(range));
        await silo.CreateTenantAsync("acme", new TenantConfig
        {
            Limits = new LimitsConfig { MaxHalfOpenHandshakes = 2 },
            Timeouts = new TimeoutsConfig { HandshakeTimeoutSeconds = 120 },
        });
        await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        var settings = GatewayPortRange(range);
        settings["Platform:TlsHandshakeTimeoutSeconds"] = "120";
        await using var gateway = await silo.StartGatewayAsync(settings: settings);
        await WaitForCertificatesAsync(gateway, "acme", 1);
        var dedicated = new IPEndPoint(IPAddress.Loopback, (await AllocatePortAsync(silo, "acme", DedicatedPortProtocols.Tls)).Port);
        var ports = gateway.Services.GetRequiredService<DedicatedPortListeners>();
        await Wait.UntilAsync(() => ports.OpenPorts.Contains(dedicated.Port), "the dedicated TLS listener");
        var hello = await TlsClient.CaptureClientHelloAsync("acme.platform.test");
        using var refusals = new RefusalRecorder(gateway);

        // The port names the tenant, so a connection counts from accept, before it has sent a byte.
        using var silent = await StalledHandshake.StartAsync(dedicated, null, One);
        using var stalled = await StalledHandshake.StartAsync(dedicated, hello, Two);
        await stalled.AssertTakenOnAsync();
        await Wait.UntilAsync(() => gateway.Services.GetRequiredService<HalfOpenCounter>().ForTenant(gateway.Store.Current.BySlug["acme"].Id) == 2, "both handshakes counted");

        using (var beyond = await StalledHandshake.StartAsync(dedicated, null, Three))
        {
            await beyond.AssertRefusedAsync(TlsAlert.HandshakeFailure);
        }

        using (var beyondSni = await StalledHandshake.StartAsync(gateway.TlsEndPoint, hello, Three))
        {
            await beyondSni.AssertRefusedAsync(TlsAlert.HandshakeFailure);
        }

        await refusals.WaitForAsync("acme", "half_open_limit", 2);

        silent.Dispose();
        await Wait.UntilAsync(async () =>
        {
            try
            {
                await using var client = await TlsClient.ConnectAsync(dedicated, null, source: Three);
                return await client.EchoAsync("in\n") == "in\n";
            }
            catch (Exception ex) when (ex is IOException or AuthenticationException)
            {
                // The abandoned connection may not have been noticed yet.
                return false;
            }
        }, "a real client once the silent connection left");
    }

    [Fact]
    public async Task GatewayCaps_ConnectionsThatNeverSendAClientHello_RefusedPerClientAndInTotal()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        var settings = new Dictionary<string, string?>(LongHandshakes)
        {
            ["Platform:MaxPendingTlsHandshakes"] = "3",
            ["Platform:MaxPendingTlsHandshakesPerClient"] = "2",
        };
        await using var gateway = await silo.StartGatewayAsync(settings: settings);
        await WaitForCertificatesAsync(gateway, "acme", 1);
        var counter = gateway.Services.GetRequiredService<HalfOpenCounter>();
        using var refusals = new RefusalRecorder(gateway);

        // Silent connections on the TLS and wss ports count together, per address and in total.
        using var first = await StalledHandshake.StartAsync(gateway.TlsEndPoint, null, One);
        using var second = await StalledHandshake.StartAsync(gateway.WssEndPoint, null, One);
        await Wait.UntilAsync(() => counter.Pending == 2, "two handshakes without a tenant counted");
        using (var third = await StalledHandshake.StartAsync(gateway.TlsEndPoint, null, One))
        {
            await third.AssertRefusedAsync(TlsAlert.HandshakeFailure);
        }

        using var fromTwo = await StalledHandshake.StartAsync(gateway.TlsEndPoint, null, Two);
        await Wait.UntilAsync(() => counter.Pending == 3, "the other address's handshake counted");
        using (var beyondTotal = await StalledHandshake.StartAsync(gateway.WssEndPoint, null, Three))
        {
            await beyondTotal.AssertRefusedAsync(TlsAlert.HandshakeFailure);
        }

        await refusals.WaitForAsync("", "half_open_limit", 2);

        // Once its ClientHello names the tenant, a handshake leaves the gateway's count for the tenant's.
        first.Dispose();
        await Wait.UntilAsync(() => counter.Pending == 2, "the abandoned connection to stop counting");
        await using var real = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "acme.platform.test", source: Three);
        Assert.Equal("served\n", await real.EchoAsync("served\n"));
        Assert.Equal(2, counter.Pending);
    }
}
