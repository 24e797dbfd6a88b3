using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Serialization;
using Platform.Cluster;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Contracts.Internal;

namespace Platform.Silo.Tests.Cluster;

/// <summary>
/// The JSON that grain calls between gateways and silos carry is read by builds one step older or newer during a
/// rolling upgrade: a member the reader does not know is skipped, a member the writer did not know yet is absent. The
/// REST API stays strict (a misspelt setting is an error there).
/// </summary>
public sealed class ClusterJsonTests
{
    [Fact]
    public void Codec_WritesAndReadsWithTheClusterOptions()
    {
        using var services = new ServiceCollection().AddSerializer(builder => builder.AddPlatformContracts()).BuildServiceProvider();

        Assert.Same(PlatformJson.Tolerant, services.GetRequiredService<IOptions<JsonCodecOptions>>().Value.SerializerOptions);
        var serializer = services.GetRequiredService<Serializer<ConnectionEventBatch>>();
        var read = serializer.Deserialize(serializer.SerializeToArray(Batch()))!;
        Assert.Equal("gw-a.1", Assert.Single(read.Opened).Id);
        Assert.Equal("openssl", Assert.Single(read.Opened).Tls!.Engine);
    }

    [Fact]
    public void SharedOptions_AreFrozenWithTheirResolver_SoTheirContractsAnswerBeforeAnySerializerCall()
    {
        foreach (var options in new[] { PlatformJson.Options, PlatformJson.Tolerant })
        {
            Assert.True(options.IsReadOnly);
            Assert.NotNull(options.TypeInfoResolver);
            Assert.Throws<InvalidOperationException>(() => options.UnmappedMemberHandling = default);
        }

        // Without the resolver, GetTypeInfo on options no serializer call has used yet throws NotSupportedException.
        Assert.NotEmpty(PlatformJson.Tolerant.GetTypeInfo(typeof(RegisterGatewayRequest)).Properties);
    }

    [Fact]
    public void ConnectionEvents_FromANewerGateway_WithMembersThisBuildDoesNotKnow_AreRead()
    {
        var json = JsonSerializer.SerializeToNode(Batch(), PlatformJson.Tolerant)!.AsObject();
        json["sequence"] = 7;
        var opened = json["opened"]![0]!.AsObject();
        opened["attachments"] = new JsonArray(1, 2);
        opened["tls"]!.AsObject()["echConfig"] = new JsonObject { ["accepted"] = true };
        json["closed"]![0]!["counters"]!.AsObject()["packetsLost"] = 3;
        var text = json.ToJsonString();

        var read = JsonSerializer.Deserialize<ConnectionEventBatch>(text, PlatformJson.Tolerant)!;

        Assert.Equal("gw-a.1", Assert.Single(read.Opened).Id);
        Assert.Equal("openssl", read.Opened[0].Tls!.Engine);
        Assert.Equal(1000, Assert.Single(read.Closed).CloseCode);
        Assert.Equal(4, read.Closed[0].Counters.MessagesOut);

        // A client of the REST API gets the strict reading: an unknown member is an error there.
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<ConnectionEventBatch>(text, PlatformJson.Options));
    }

    [Fact]
    public void ConnectionEvents_FromAnOlderGateway_WithoutLaterMembers_AreRead()
    {
        var json = JsonSerializer.SerializeToNode(Batch(), PlatformJson.Tolerant)!.AsObject();
        var opened = json["opened"]![0]!.AsObject();
        Assert.True(opened.Remove("metadata") & opened.Remove("forwardTarget"));
        Assert.True(json["closed"]![0]!["counters"]!.AsObject().Remove("remoteAddress"));

        var read = JsonSerializer.Deserialize<ConnectionEventBatch>(json.ToJsonString(), PlatformJson.Tolerant)!;

        Assert.Null(read.Opened[0].Metadata);
        Assert.Null(read.Opened[0].ForwardTarget);
        Assert.Null(read.Closed[0].Counters.RemoteAddress);
    }

    [Fact]
    public void ConfigWatch_FromANewerSilo_WithSettingsThisBuildDoesNotKnow_IsRead()
    {
        var tenant = new TenantSnapshot(
            Guid.NewGuid(), "acme", "active", 12, new TenantConfig { Limits = new LimitsConfig { MaxConnections = 42 } },
            ["acme.example.com"], [], [], [new PskMaterial("acme/dev1", "00112233")]);
        var json = JsonSerializer.SerializeToNode(new ConfigWatchResponse(12, true, [tenant], []), PlatformJson.Tolerant)!.AsObject();
        var config = json["tenants"]![0]!["config"]!.AsObject();
        config["quic"] = new JsonObject { ["enabled"] = true };
        config["limits"]!.AsObject()["maxStreams"] = 8;

        var read = JsonSerializer.Deserialize<ConfigWatchResponse>(json.ToJsonString(), PlatformJson.Tolerant)!;

        var snapshot = Assert.Single(read.Tenants);
        Assert.Equal("acme", snapshot.Slug);
        Assert.Equal(42, snapshot.Config.Limits.MaxConnections);
        Assert.Equal("acme/dev1", Assert.Single(snapshot.PskIdentities).Identity);
    }

    private static ConnectionEventBatch Batch() => new(
        [new ConnectionOpened(
            "gw-a.1", Guid.NewGuid(), ConnectionProtocols.Dtls, "127.0.0.1", 40000, 5684, DateTimeOffset.UnixEpoch,
            new TlsFacts("device.example", "DTLSv1.2", "ECDHE-PSK-AES128-CBC-SHA256", null, null, null, null, "acme/dev1", "openssl"),
            null,
            new Dictionary<string, string> { ["site"] = "north" },
            "backend.example:9000")],
        [],
        [new ConnectionClosed(new ConnectionCounters("gw-a.0", 1, 2, 3, 4, DateTimeOffset.UnixEpoch, "127.0.0.2", 40001), DateTimeOffset.UnixEpoch, 1000, "client closed")]);
}
