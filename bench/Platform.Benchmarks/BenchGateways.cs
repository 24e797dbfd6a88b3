using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Platform.Testing;

namespace Platform.Benchmarks;

/// <summary>
/// Real gateways of one build as child processes (<see cref="GatewayProcess"/>), attached to one silo process the way
/// that build's gateways attach (<see cref="Settings"/>): a plain ws port on 127.0.0.1 and a state directory of their
/// own. A gateway counts as started when the silo lists it <c>up</c> and it has saved its first snapshot.
/// </summary>
internal static class BenchGateways
{
    /// <summary>The fail-static snapshot's file in a gateway's <see cref="GatewayProcess.StateDirectory"/>.</summary>
    public const string SnapshotFileName = "snapshot.bin";

    /// <summary>
    /// The settings a gateway of <paramref name="build"/> starts with against <paramref name="silo"/>, and its secrets
    /// (one file each). The HTTP gateway (before the Orleans client) names the silo's REST URL and shares the cluster
    /// secret, which also seals its snapshot; the Orleans gateway names the silo's Orleans gateway port, seals its
    /// snapshot with a key of its own, serves <c>/healthz</c> on an admin port and presents a client certificate of the
    /// test cluster CA.
    /// </summary>
    public static (Dictionary<string, string?> Environment, Dictionary<string, string> Secrets) Settings(
        SiloBuild build, SiloProcess silo, string nodeName, int wsPort)
    {
        ArgumentNullException.ThrowIfNull(build);
        ArgumentNullException.ThrowIfNull(silo);
        var environment = new Dictionary<string, string?>
        {
            ["Platform:NodeName"] = nodeName,
            ["Platform:PlatformDomain"] = "platform.test",
            ["Platform:ListenAddress"] = "127.0.0.1",
            ["Platform:WsPort"] = wsPort.ToString(CultureInfo.InvariantCulture),
            ["Platform:WssPort"] = "-1",
            ["Platform:TlsPort"] = "-1",
            ["Platform:DtlsPort"] = "-1",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        var secrets = new Dictionary<string, string>();
        switch (build.Flavor)
        {
            case ClusterFlavor.Http:
                environment["Platform:SiloUrl"] = silo.BaseAddress.ToString();
                environment["Platform:InternalPort"] = FreePorts.Tcp().ToString(CultureInfo.InvariantCulture);
                secrets["Platform__ClusterSecret"] = build.ClusterSecret;
                break;
            case ClusterFlavor.Orleans:
                environment["Platform:SiloEndpoints:0"] = string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{silo.GatewayPort}");
                environment["Platform:AdminPort"] = FreePorts.Tcp().ToString(CultureInfo.InvariantCulture);
                secrets["Platform__SnapshotKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
                // The silos of the harness run with the test cluster CA (SiloTestSettings); the gateway presents a client certificate of it.
                foreach (var (key, value) in ClusterCertificates.Cluster.Gateway.Settings())
                {
                    environment[key] = value;
                }

                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(build), build.Flavor, null);
        }

        return (environment, secrets);
    }

    /// <summary>Starts a gateway of <paramref name="build"/> attached to <paramref name="silo"/>; <paramref name="operatorClient"/> watches it come up.</summary>
    public static async Task<GatewayProcess> StartAsync(SiloBuild build, SiloProcess silo, string nodeName, HttpClient operatorClient)
    {
        ArgumentNullException.ThrowIfNull(build);
        ArgumentNullException.ThrowIfNull(operatorClient);
        var dll = build.GatewayDll ?? throw new BenchmarkFailedException($"no gateway build for the {build.Name} build (--gateway / --previous-gateway)");
        var (environment, secrets) = Settings(build, silo, nodeName, FreePorts.Tcp());
        try
        {
            return await GatewayProcess.StartAsync(nodeName, environment, secrets, gateway => UpAsync(gateway, operatorClient), dll);
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
        {
            throw new BenchmarkFailedException($"gateway {nodeName} did not start: {ex.Message}");
        }
    }

    /// <summary>The node's <c>configRevision</c> as the silo lists it (reported with its heartbeats); null when not listed.</summary>
    public static async Task<long?> ListedRevisionAsync(GatewayProcess gateway, HttpClient operatorClient)
    {
        ArgumentNullException.ThrowIfNull(gateway);
        var node = await FindAsync(operatorClient, gateway.NodeId);
        return node is { } n ? n.GetProperty("configRevision").GetInt64() : null;
    }

    /// <summary>The node id once the silo lists a node of this name <c>up</c> and the gateway has saved a snapshot; else null.</summary>
    private static async Task<string?> UpAsync(GatewayProcess gateway, HttpClient operatorClient) =>
        await FindAsync(operatorClient, gateway.Name + "-") is { } node
            && node.GetProperty("status").GetString() == "up"
            && File.Exists(Path.Combine(gateway.StateDirectory, SnapshotFileName))
            ? node.GetProperty("id").GetString()
            : null;

    // Read as plain JSON: the listing's shape differs between builds (the HTTP build lists an internal URL).
    private static async Task<JsonElement?> FindAsync(HttpClient operatorClient, string idPrefix)
    {
        using var response = await operatorClient.GetAsync(new Uri("/v1/gateways?limit=100", UriKind.Relative));
        await BenchContext.EnsureAsync(response, HttpStatusCode.OK, "GET /v1/gateways");
        using var page = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        foreach (var item in page.RootElement.GetProperty("items").EnumerateArray())
        {
            if (item.GetProperty("id").GetString() is { } id && id.StartsWith(idPrefix, StringComparison.Ordinal))
            {
                return item.Clone();
            }
        }

        return null;
    }
}
