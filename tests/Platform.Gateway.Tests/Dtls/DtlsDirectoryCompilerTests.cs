using Microsoft.Extensions.Logging.Abstractions;
using Platform.Contracts.Internal;
using Platform.Gateway.Dtls;
using Platform.Gateway.Tenants;
using Platform.Gateway.Tests.Support;

namespace Platform.Gateway.Tests.Dtls;

public sealed class DtlsDirectoryCompilerTests
{
    [Fact]
    public void Compile_TenantSnapshot_CertificatesNewestFirstPsksDecodedHostNamesKept()
    {
        var older = TestCertificates.ServerMaterial("old.acme.example") with { NotAfter = DateTimeOffset.UtcNow.AddDays(10) };
        var newer = TestCertificates.ServerMaterial("new.acme.example") with { NotAfter = DateTimeOffset.UtcNow.AddDays(80) };
        var snapshot = TestTenants.Snapshot("acme", certificates: [older, newer]) with { PskIdentities = [new PskMaterial("dev1", "00112233445566778899aabbccddeeff")] };
        var store = Store();
        store.Apply(new ConfigWatchResponse(1, true, [snapshot], []));

        using var directory = new DtlsDirectoryCompiler(NullLogger<DtlsDirectoryCompiler>.Instance).Compile(store.Current);

        var tenant = directory.FindById(snapshot.Id.ToString())!;
        Assert.Equal("acme", tenant.Slug);
        Assert.Equal(2, tenant.Settings.CertificatePems.Count);
        Assert.StartsWith(newer.CertificateChainPem.TrimEnd(), tenant.Settings.CertificatePems[0], StringComparison.Ordinal);
        Assert.Contains(newer.PrivateKeyPem.TrimEnd(), tenant.Settings.CertificatePems[0], StringComparison.Ordinal);
        Assert.Equal(Convert.FromHexString("00112233445566778899aabbccddeeff"), tenant.Settings.PreSharedKeys["dev1"]);
        Assert.Contains("acme.platform.test", tenant.Settings.HostNames);
    }

    [Fact]
    public void Compile_RoutingNamesOnly_NeitherConfigNorCertificateNamesRoute()
    {
        var material = TestCertificates.ServerMaterial("cert.acme.example");
        var snapshot = TestTenants.Snapshot("acme", new Contracts.Config.TenantConfig { HostNames = ["pending.acme.example"] },
            certificates: [material], hostNames: ["acme.platform.test", "proven.acme.example"]);
        var store = Store();
        store.Apply(new ConfigWatchResponse(1, true, [snapshot], []));

        using var directory = new DtlsDirectoryCompiler(NullLogger<DtlsDirectoryCompiler>.Instance).Compile(store.Current);

        var settings = directory.FindById(snapshot.Id.ToString())!.Settings;
        Assert.Equal(["acme.platform.test", "proven.acme.example"], settings.HostNames);
        Assert.False(settings.RouteCertificateNames);
    }

    [Fact]
    public void Compile_OneTenantChanged_OthersTakenOverFromThePreviousDirectory()
    {
        var acme = TestTenants.Snapshot("acme", certificates: [TestCertificates.ServerMaterial("a.acme.example")]);
        var beta = TestTenants.Snapshot("beta", certificates: [TestCertificates.ServerMaterial("b.beta.example")]);
        var store = Store();
        var compiler = new DtlsDirectoryCompiler(NullLogger<DtlsDirectoryCompiler>.Instance);
        store.Apply(new ConfigWatchResponse(1, true, [acme, beta], []));
        var first = compiler.Compile(store.Current);

        store.Apply(new ConfigWatchResponse(2, false, [beta with { Revision = 2 }], []));
        using var second = compiler.Compile(store.Current, first);
        first.Dispose();

        Assert.Same(first.FindById(acme.Id.ToString()), second.FindById(acme.Id.ToString()));
        Assert.NotSame(first.FindById(beta.Id.ToString()), second.FindById(beta.Id.ToString()));
        Assert.Equal(2, second.Tenants.Count);
    }

    [Theory]
    [InlineData(0, null, 300)]
    [InlineData(0, 45, 45)]
    [InlineData(30, null, 30)]
    [InlineData(600, 120, 120)]
    public void Compile_IdleTimeouts_DtlsSessionsAlwaysGetOne(int idleSeconds, int? dtlsIdleSeconds, int expectedSeconds)
    {
        var timeouts = new Contracts.Config.TimeoutsConfig { IdleTimeoutSeconds = idleSeconds };
        if (dtlsIdleSeconds is { } dtls)
        {
            timeouts = timeouts with { DtlsIdleTimeoutSeconds = dtls };
        }

        var snapshot = TestTenants.Snapshot("acme", new Contracts.Config.TenantConfig { Timeouts = timeouts });
        var store = Store();
        store.Apply(new ConfigWatchResponse(1, true, [snapshot], []));

        using var directory = new DtlsDirectoryCompiler(NullLogger<DtlsDirectoryCompiler>.Instance).Compile(store.Current);

        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), directory.FindById(snapshot.Id.ToString())!.Settings.IdleTimeout);
    }

    [Fact]
    public void Compile_DtlsFeaturesAndRawPublicKeys_FingerprintsComputedFromTheKeysThemselves()
    {
        using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var spki = key.ExportSubjectPublicKeyInfo();
        var config = new Contracts.Config.TenantConfig
        {
            Dtls = new Contracts.Config.DtlsConfig
            {
                HeartbeatIntervalSeconds = 30,
                HeartbeatTimeoutSeconds = 10,
                ConnectionIds = new Contracts.Config.DtlsConnectionIdConfig { Enabled = true, Length = 6 },
                RawPublicKeys = new Contracts.Config.DtlsRawPublicKeyConfig { Enabled = true },
            },
        };

        // A fingerprint in the snapshot that does not match its key is not trusted: the gateway hashes the key itself.
        var snapshot = TestTenants.Snapshot("acme", config) with
        {
            RawPublicKeys =
            [
                new RawPublicKeyMaterial(Guid.NewGuid(), new string('0', 64), Convert.ToBase64String(spki)),
                new RawPublicKeyMaterial(Guid.NewGuid(), new string('1', 64), "not base64!"),
            ],
        };
        var store = Store();
        store.Apply(new ConfigWatchResponse(1, true, [snapshot], []));

        using var directory = new DtlsDirectoryCompiler(NullLogger<DtlsDirectoryCompiler>.Instance).Compile(store.Current);

        var features = directory.FindById(snapshot.Id.ToString())!.Settings.Features;
        Assert.Equal(TimeSpan.FromSeconds(30), features.HeartbeatInterval);
        Assert.Equal(TimeSpan.FromSeconds(10), features.HeartbeatTimeout);
        Assert.Equal(6, features.ConnectionIdLength);
        Assert.True(features.RawPublicKeys);
        Assert.Equal([Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(spki))], features.TrustedKeyFingerprints);
    }

    [Fact]
    public void Compile_NoDtlsSection_NoFeatureAndEverySessionStaysOnOpenSsl()
    {
        var snapshot = TestTenants.Snapshot("acme");
        var store = Store();
        store.Apply(new ConfigWatchResponse(1, true, [snapshot], []));

        using var directory = new DtlsDirectoryCompiler(NullLogger<DtlsDirectoryCompiler>.Instance).Compile(store.Current);

        Assert.False(directory.FindById(snapshot.Id.ToString())!.Settings.Features.Any);
    }

    private static TenantSnapshotStore Store() => new(TestTenants.Compiler(), NullLogger<TenantSnapshotStore>.Instance);
}
