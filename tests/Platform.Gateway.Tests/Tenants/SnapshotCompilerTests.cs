using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Contracts.Internal;
using Platform.Gateway.Tenants;
using Platform.Gateway.Tests.Support;

namespace Platform.Gateway.Tests.Tenants;

public sealed class SnapshotCompilerTests
{
    [Fact]
    public void Apply_Full_IndexesBySlugHostAndPort()
    {
        var tenant = TestTenants.Snapshot("acme", ports: [new DedicatedPortSnapshot(20001, "tcp")]);
        var snapshot = TestTenants.Compiler().Apply(GatewaySnapshot.Empty, new ConfigWatchResponse(3, true, [tenant], []));

        Assert.Equal(3, snapshot.Revision);
        Assert.Same(snapshot.BySlug["acme"], snapshot.ByHost("ACME.platform.test"));
        Assert.Equal("acme", snapshot.ByPort[20001].Tenant.Slug);
    }

    [Fact]
    public void Apply_Incremental_KeepsUnchangedTenantsAndRemovesDeleted()
    {
        var compiler = TestTenants.Compiler();
        var a = TestTenants.Snapshot("a");
        var b = TestTenants.Snapshot("b");
        var first = compiler.Apply(GatewaySnapshot.Empty, new ConfigWatchResponse(2, true, [a, b], []));
        var c = TestTenants.Snapshot("c", revision: 3);

        var second = compiler.Apply(first, new ConfigWatchResponse(3, false, [c], [b.Id]));

        Assert.Same(first.BySlug["a"], second.BySlug["a"]);
        Assert.False(second.BySlug.ContainsKey("b"));
        Assert.True(second.BySlug.ContainsKey("c"));
        Assert.Equal(3, second.Revision);
    }

    [Fact]
    public void Apply_InvalidUpdate_PreviousTenantStaysLive()
    {
        var compiler = TestTenants.Compiler();
        var id = Guid.NewGuid();
        var good = TestTenants.Snapshot("acme", id: id, config: new TenantConfig { Limits = new LimitsConfig { MaxConnections = 5 } });
        var first = compiler.Apply(GatewaySnapshot.Empty, new ConfigWatchResponse(1, true, [good], []));
        var bad = TestTenants.Snapshot("acme", id: id, revision: 2, config: new TenantConfig { Limits = new LimitsConfig { MaxConnections = -1 } });

        var second = compiler.Apply(first, new ConfigWatchResponse(2, false, [bad], []));

        Assert.Equal(5, second.ById[id].Config.Limits.MaxConnections);
        Assert.Equal(2, second.Revision);
    }

    [Fact]
    public void TryCompile_Certificates_IndexedByHostWithCachedContext()
    {
        var material = TestCertificates.ServerMaterial("acme.platform.test", "*.devices.acme.example");
        var tenant = TestTenants.Compile(TestTenants.Snapshot("acme", certificates: [material]));

        Assert.Null(tenant.TlsError);
        var exact = tenant.CertificateFor("acme.platform.test");
        Assert.NotNull(exact);
        Assert.Same(exact, tenant.CertificateFor("d1.devices.acme.example"));
        Assert.NotNull(exact!.Context);
    }

    [Fact]
    public void Apply_ConfigAndCertificateNames_RouteOnlyWhenTheSiloListsThem()
    {
        var material = TestCertificates.ServerMaterial("cert.acme.example", "*.devices.acme.example");
        var acme = TestTenants.Snapshot("acme", new TenantConfig { HostNames = ["pending.acme.example", "proven.acme.example"] },
            certificates: [material], hostNames: ["acme.platform.test", "proven.acme.example", "*.fleet.acme.example"]);

        var snapshot = TestTenants.Compiler().Apply(GatewaySnapshot.Empty, new ConfigWatchResponse(1, true, [acme], []));

        Assert.Null(snapshot.ByHost("pending.acme.example"));
        Assert.Null(snapshot.ByHost("cert.acme.example"));
        Assert.Null(snapshot.ByHost("d1.devices.acme.example"));
        var tenant = snapshot.BySlug["acme"];
        Assert.Same(tenant, snapshot.ByHost("proven.acme.example"));
        Assert.Same(tenant, snapshot.ByHost("truck7.fleet.acme.example"));
        Assert.Same(tenant, snapshot.ByHost("acme.platform.test"));
        // Certificates still load: once a routing name chose the tenant, their names choose among them.
        Assert.NotNull(tenant.CertificateFor("cert.acme.example"));
        Assert.Equal(["acme.platform.test", "proven.acme.example", "*.fleet.acme.example"], tenant.HostNames);
    }

    [Fact]
    public void TryCompile_BrokenCertificate_OnlyThatTenantLosesTls()
    {
        var good = TestCertificates.ServerMaterial("good.platform.test");
        var broken = good with { Id = Guid.NewGuid(), HostNames = ["bad.platform.test"], PrivateKeyPem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----" };
        var snapshot = TestTenants.Compiler().Apply(GatewaySnapshot.Empty, new ConfigWatchResponse(1, true, [
            TestTenants.Snapshot("good", certificates: [good]),
            TestTenants.Snapshot("bad", certificates: [broken]),
        ], []));

        Assert.NotNull(snapshot.BySlug["good"].CertificateFor("good.platform.test"));
        Assert.Null(snapshot.BySlug["bad"].CertificateFor("bad.platform.test"));
        Assert.NotNull(snapshot.BySlug["bad"].TlsError);
    }

    [Fact]
    public void TryCompile_Listeners_DefaultAcceptsEveryKind()
    {
        var tenant = TestTenants.Tenant();

        Assert.All([ConnectionProtocols.Ws, ConnectionProtocols.Wss, ConnectionProtocols.Tls, ConnectionProtocols.Tcp, ConnectionProtocols.Dtls],
            protocol => Assert.True(tenant.Accepts(protocol), protocol));
    }

    [Fact]
    public void TryCompile_Listeners_RequiredClientCertificatesLeaveOutThePlainKinds()
    {
        using var ca = TestCertificates.CreateCa("Listener CA");
        var tenant = TestTenants.Tenant(config: new TenantConfig
        {
            Tls = new TlsConfig { ClientCertificates = ClientCertificateModes.Required, ClientCaCertificates = ca.ExportCertificatePem() },
        });

        Assert.False(tenant.Accepts(ConnectionProtocols.Ws));
        Assert.False(tenant.Accepts(ConnectionProtocols.Tcp));
        Assert.True(tenant.Accepts(ConnectionProtocols.Wss));
        Assert.True(tenant.Accepts(ConnectionProtocols.Tls));
        Assert.True(tenant.Accepts(ConnectionProtocols.Dtls));
    }

    [Fact]
    public void TryCompile_Listeners_ExplicitListIsExactlyWhatIsAccepted()
    {
        var tenant = TestTenants.Tenant(config: new TenantConfig { Listeners = [ListenerProtocols.Tcp, ListenerProtocols.Wss] });

        Assert.Equal(ListenerKinds.Tcp | ListenerKinds.Wss, tenant.Listeners);
        Assert.True(tenant.Accepts(ConnectionProtocols.Tcp));
        Assert.True(tenant.Accepts(ConnectionProtocols.Wss));
        Assert.False(tenant.Accepts(ConnectionProtocols.Ws));
        Assert.False(tenant.Accepts(ConnectionProtocols.Tls));
        Assert.False(tenant.Accepts(ConnectionProtocols.Dtls));
        Assert.False(tenant.Accepts("udp"));
    }
}
