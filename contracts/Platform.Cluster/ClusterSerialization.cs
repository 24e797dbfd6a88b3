using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Platform.Contracts;

namespace Platform.Cluster;

/// <summary>
/// How grain calls carry the shapes of <c>Platform.Contracts</c>, which have no Orleans attributes: as JSON, with the
/// options the REST API uses. Silos and clients register it alike.
/// </summary>
public static class ClusterSerialization
{
    public static ISerializerBuilder AddPlatformContracts(this ISerializerBuilder builder) =>
        builder.AddJsonSerializer(
            isSupported: static type => type.Assembly == typeof(PlatformJson).Assembly,
            jsonSerializerOptions: PlatformJson.Options);
}
