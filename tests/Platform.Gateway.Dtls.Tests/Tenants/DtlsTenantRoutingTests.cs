using Platform.Gateway.Dtls.Tenants;
using Platform.Gateway.Dtls.Tests.Support;

namespace Platform.Gateway.Dtls.Tests.Tenants;

/// <summary>Which SNI names select a tenant, and which of its certificates then serves.</summary>
public sealed class DtlsTenantRoutingTests
{
    private static readonly TestTenants Pki = new();

    [Fact]
    public void TryResolveHost_CertificateNamesOff_OnlyHostNamesRouteAndChooseTheirCertificate()
    {
        var second = TestPki.CreateServerPem(Pki.Ca, "second", rsa: false, "second.dtls.test", "*.fleet.dtls.test");
        using var directory = DtlsTenantDirectory.Build([Pki.Alpha(s => s with
        {
            CertificatePems = [Pki.AlphaPem, second],
            HostNames = ["routed.dtls.test", "second.dtls.test", "*.fleet.dtls.test"],
            RouteCertificateNames = false,
        })]);

        Assert.False(directory.TryResolveHost("alpha.dtls.test", out _, out _));
        Assert.True(directory.TryResolveHost("routed.dtls.test", out var routed, out var routedIndex));
        Assert.True(directory.TryResolveHost("second.dtls.test", out _, out var secondIndex));
        Assert.True(directory.TryResolveHost("truck.fleet.dtls.test", out _, out var wildcardIndex));
        Assert.Equal(("t-alpha", 0, 1, 1), (routed.TenantId, routedIndex, secondIndex, wildcardIndex));
    }

    [Fact]
    public void TryResolveHost_CertificateNamesOnByDefault_CertificateNamesRoute()
    {
        using var directory = DtlsTenantDirectory.Build([Pki.Alpha(), Pki.Beta()]);

        Assert.True(directory.TryResolveHost("alpha.dtls.test", out var alpha, out _));
        Assert.True(directory.TryResolveHost("x.beta.dtls.test", out var beta, out _));
        Assert.Equal(("t-alpha", "t-beta"), (alpha.TenantId, beta.TenantId));
    }

    [Fact]
    public void FromConfig_RoutesTheGivenNamesOnly()
    {
        var settings = DtlsTenantSettings.FromConfig("t-1", "one", new Contracts.Config.TenantConfig { HostNames = ["claimed.example.com"] },
            [Pki.AlphaPem], new Dictionary<string, byte[]>(), ["one.platform.test"]);
        using var directory = DtlsTenantDirectory.Build([settings]);

        Assert.Equal(["one.platform.test"], settings.HostNames);
        Assert.False(directory.TryResolveHost("claimed.example.com", out _, out _));
        Assert.False(directory.TryResolveHost("alpha.dtls.test", out _, out _));
        Assert.True(directory.TryResolveHost("one.platform.test", out _, out _));
    }
}
