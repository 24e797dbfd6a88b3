using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Platform.Contracts;
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
    public async Task TryLoad_FileOfANewerBuild_WithMembersThisBuildDoesNotKnow_IsRead()
    {
        // A gateway rolled back to the release before finds the file the newer release wrote.
        var response = new ConfigWatchResponse(9, true, [TestTenants.Snapshot("acme")], []);
        var json = JsonSerializer.SerializeToNode(response, PlatformJson.Options)!;
        json["writtenBy"] = "next";
        json["tenants"]![0]!["config"]!["quic"] = new JsonObject { ["enabled"] = true };
        var persistence = Persistence((byte)'k');
        await persistence.WriteSealedAsync(Encoding.UTF8.GetBytes(json.ToJsonString()), CancellationToken.None);

        var loaded = persistence.TryLoad();

        Assert.NotNull(loaded);
        Assert.Equal(9, loaded!.Revision);
        Assert.Equal("acme", Assert.Single(loaded.Tenants).Slug);
    }

    [Fact]
    public void TryLoad_NoFile_Null()
    {
        Assert.Null(Persistence((byte)'a').TryLoad());
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
