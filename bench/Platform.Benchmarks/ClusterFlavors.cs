using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Platform.Benchmarks;

/// <summary>
/// Tells a build's <see cref="ClusterFlavor"/> from what its gateway accepts as settings: the properties of its
/// <c>Platform.Gateway.Hosting.GatewayOptions</c>, read from the assembly's metadata (nothing of the build is loaded
/// into the harness). This is the one place the harness decides it.
/// </summary>
internal static class ClusterFlavors
{
    private const string OptionsNamespace = "Platform.Gateway.Hosting";
    private const string OptionsType = "GatewayOptions";

    public static ClusterFlavor Detect(string gatewayDll)
    {
        var properties = OptionProperties(gatewayDll);
        if (properties.Contains("SiloEndpoints"))
        {
            return ClusterFlavor.Orleans;
        }

        if (properties.Contains("SiloUrl"))
        {
            return ClusterFlavor.Http;
        }

        throw new ArgumentException($"{gatewayDll}: its {OptionsNamespace}.{OptionsType} has neither SiloEndpoints nor SiloUrl; give --flavor.");
    }

    public static ClusterFlavor Parse(string name, string value) => value switch
    {
        "http" => ClusterFlavor.Http,
        "orleans" => ClusterFlavor.Orleans,
        _ => throw new ArgumentException($"{name} must be http or orleans, not '{value}'."),
    };

    private static HashSet<string> OptionProperties(string gatewayDll)
    {
        using var stream = File.OpenRead(gatewayDll);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        foreach (var handle in metadata.TypeDefinitions)
        {
            var type = metadata.GetTypeDefinition(handle);
            if (metadata.StringComparer.Equals(type.Name, OptionsType) && metadata.StringComparer.Equals(type.Namespace, OptionsNamespace))
            {
                return [.. type.GetProperties().Select(p => metadata.GetString(metadata.GetPropertyDefinition(p).Name))];
            }
        }

        throw new ArgumentException($"{gatewayDll} defines no {OptionsNamespace}.{OptionsType}: is it a Platform.Gateway.dll?");
    }
}
