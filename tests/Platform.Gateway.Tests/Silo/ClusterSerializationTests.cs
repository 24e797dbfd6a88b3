using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Serialization.Cloning;
using Platform.Cluster;
using Platform.Contracts.Connections;
using Platform.Contracts.Internal;

namespace Platform.Gateway.Tests.Silo;

/// <summary>How grain calls carry the connection events a gateway posts, with the cluster's own serializer setup.</summary>
public sealed class ClusterSerializationTests
{
    [Fact]
    public void ConnectionEventBatch_IsPassedAsItIs_ButStillSerializedAsJson()
    {
        using var services = new ServiceCollection().AddSerializer(builder => builder.AddPlatformContracts()).BuildServiceProvider();
        var batch = new ConnectionEventBatch(
            [new ConnectionOpened("gw-a.1", Guid.NewGuid(), ConnectionProtocols.Dtls, "127.0.0.1", 40000, 5684, DateTimeOffset.UnixEpoch, null, null)],
            [],
            [new ConnectionClosed(new ConnectionCounters("gw-a.0", 1, 2, 3, 4, DateTimeOffset.UnixEpoch), DateTimeOffset.UnixEpoch, 1000, "client closed")]);

        // The argument copy Orleans makes before a call is the batch itself (the gateway never changes a posted batch).
        Assert.Same(batch, services.GetRequiredService<DeepCopier<ConnectionEventBatch>>().Copy(batch));

        // The wire form is the JSON codec's, as before: a build with or without the copier reads the other's batches.
        var serializer = services.GetRequiredService<Serializer<ConnectionEventBatch>>();
        var bytes = serializer.SerializeToArray(batch);
        Assert.Contains("\"remoteAddress\":\"127.0.0.1\"", System.Text.Encoding.UTF8.GetString(bytes), StringComparison.Ordinal);
        var read = serializer.Deserialize(bytes);
        Assert.NotSame(batch, read);
        Assert.NotNull(read);
        Assert.Equal("gw-a.1", Assert.Single(read.Opened).Id);
        Assert.Equal(1000, Assert.Single(read.Closed).CloseCode);

        // Other contract types are still copied deeply.
        var counters = new ConnectionCounters("gw-a.2", 1, 2, 3, 4, DateTimeOffset.UnixEpoch);
        Assert.NotSame(counters, services.GetRequiredService<DeepCopier<ConnectionCounters>>().Copy(counters));
    }
}
