using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Platform.Contracts;

namespace Platform.Cluster;

/// <summary>
/// How grain calls carry the shapes of <c>Platform.Contracts</c>, which have no Orleans attributes: as JSON with
/// <see cref="PlatformJson.Tolerant"/>, the REST API's conventions except that a member the reader does not know is
/// skipped, not refused. The REST API refuses it so that a misspelt setting is an error; between gateways and silos it
/// is a member a newer build added, and during a rolling upgrade a build one step older must still read the message
/// (a silo refusing a batch of connection events, or a gateway the config watch's answer, for one new field would stop
/// the directory or the configuration until every node is upgraded). Silos and clients register it alike.
/// </summary>
public static class ClusterSerialization
{
    public static ISerializerBuilder AddPlatformContracts(this ISerializerBuilder builder) =>
        builder.AddJsonSerializer(
            isSupported: static type => type.Assembly == typeof(PlatformJson).Assembly,
            jsonSerializerOptions: PlatformJson.Tolerant);
}
