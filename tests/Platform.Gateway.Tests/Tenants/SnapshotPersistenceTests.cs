using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Platform.Contracts.Internal;
using Platform.Gateway.Hosting;
using Platform.Gateway.Tenants;
using Platform.Gateway.Tests.Support;

namespace Platform.Gateway.Tests.Tenants;

public sealed class SnapshotPersistenceTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("gw-state-").FullName;

    private SnapshotPersistence Persistence(byte fill) =>
        new(Options.Create(new GatewayOptions { SnapshotKey = Convert.ToBase64String(Enumerable.Repeat(fill, 32).ToArray()), StateDirectory = _directory }), NullLogger<SnapshotPersistence>.Instance);

    [Fact]
    public async Task SaveAsync_ThenTryLoad_RoundTripsWithoutPlaintextSecrets()
    {
        var material = TestCertificates.ServerMaterial("acme.platform.test");
        var snapshot = TestTenants.Compiler().Apply(GatewaySnapshot.Empty, new ConfigWatchResponse(7, true, [TestTenants.Snapshot("acme", certificates: [material])], []));
        var persistence = Persistence((byte)'k');

        await persistence.SaveAsync(snapshot, CancellationToken.None);
        var loaded = persistence.TryLoad();

        Assert.NotNull(loaded);
        Assert.Equal(7, loaded!.Revision);
        Assert.True(loaded.Full);
        Assert.Equal(material.PrivateKeyPem, loaded.Tenants.Single().Certificates.Single().PrivateKeyPem);
        var raw = await File.ReadAllTextAsync(persistence.FilePath);
        Assert.DoesNotContain("PRIVATE KEY", raw, StringComparison.Ordinal);
        Assert.DoesNotContain("acme", raw, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_directory, "*.tmp"));
    }

    [Fact]
    public async Task TryLoad_OtherSnapshotKey_Null()
    {
        var snapshot = TestTenants.Compiler().Apply(GatewaySnapshot.Empty, new ConfigWatchResponse(1, true, [TestTenants.Snapshot("acme")], []));
        await Persistence((byte)'a').SaveAsync(snapshot, CancellationToken.None);

        Assert.Null(Persistence((byte)'b').TryLoad());
    }

    [Fact]
    public void TryLoad_NoFile_Null()
    {
        Assert.Null(Persistence((byte)'a').TryLoad());
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
