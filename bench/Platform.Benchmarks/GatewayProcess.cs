using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Platform.Testing;

namespace Platform.Benchmarks;

/// <summary>
/// A real gateway of one build as a child process (<c>dotnet Platform.Gateway.dll</c>), attached to one silo process
/// the way that build's gateways attach (<see cref="Settings"/>): secrets as files in a private directory
/// (<c>PLATFORM_SECRETS_DIR</c>), everything else in the environment, a plain ws port on 127.0.0.1 and a state
/// directory of its own. Started when the silo lists it <c>up</c> and it has saved its first snapshot.
/// </summary>
internal sealed class GatewayProcess : IAsyncDisposable
{
    private const int OutputLimit = 200;
    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(60);
    private readonly Process _process;
    private readonly string _secretsDirectory;
    private readonly Queue<string> _output = new();

    private GatewayProcess(Process process, string nodeName, string stateDirectory, string secretsDirectory, int wsPort)
    {
        _process = process;
        NodeName = nodeName;
        StateDirectory = stateDirectory;
        _secretsDirectory = secretsDirectory;
        WsPort = wsPort;
    }

    /// <summary>The prefix of its node id; the gateway adds a random suffix.</summary>
    public string NodeName { get; }

    /// <summary>The node id the silo lists it under, once started.</summary>
    public string NodeId { get; private set; } = "";

    /// <summary>Where it keeps its fail-static snapshot (<see cref="SnapshotFileName"/>).</summary>
    public string StateDirectory { get; }

    public const string SnapshotFileName = "snapshot.bin";

    public int WsPort { get; }

    /// <summary>The last lines the gateway printed (stdout and stderr).</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join('\n', _output);
            }
        }
    }

    /// <summary>
    /// The settings a gateway of <paramref name="build"/> starts with against <paramref name="silo"/>, and its secrets
    /// (one file each). The HTTP gateway (before the Orleans client) names the silo's REST URL and shares the cluster
    /// secret, which also seals its snapshot; the Orleans gateway names the silo's Orleans gateway port, seals its
    /// snapshot with a key of its own, serves <c>/healthz</c> on an admin port and presents a client certificate of the
    /// test cluster CA.
    /// </summary>
    public static (Dictionary<string, string> Environment, Dictionary<string, string> Secrets) Settings(
        SiloBuild build, SiloProcess silo, string nodeName, string stateDirectory, int wsPort)
    {
        ArgumentNullException.ThrowIfNull(silo);
        var environment = new Dictionary<string, string>
        {
            ["Platform:NodeName"] = nodeName,
            ["Platform:PlatformDomain"] = "platform.test",
            ["Platform:ListenAddress"] = "127.0.0.1",
            ["Platform:WsPort"] = wsPort.ToString(CultureInfo.InvariantCulture),
            ["Platform:WssPort"] = "-1",
            ["Platform:TlsPort"] = "-1",
            ["Platform:DtlsPort"] = "-1",
            ["Platform:StateDirectory"] = stateDirectory,
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
                    environment[key] = value!;
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
        var stateDirectory = Directory.CreateTempSubdirectory("bench-gw-state-").FullName;
        // Created with mode 0700 on Unix: only this user reads the files in it.
        var secretsDirectory = Directory.CreateTempSubdirectory("bench-gw-secrets-").FullName;
        var wsPort = FreePorts.Tcp();
        var (environment, secrets) = Settings(build, silo, nodeName, stateDirectory, wsPort);
        foreach (var (name, value) in secrets)
        {
            await File.WriteAllTextAsync(Path.Combine(secretsDirectory, name), value, Encoding.UTF8);
        }

        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        info.Environment["PLATFORM_SECRETS_DIR"] = secretsDirectory;
        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        foreach (var (key, value) in environment)
        {
            info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var process = new Process { StartInfo = info };
        var gateway = new GatewayProcess(process, nodeName, stateDirectory, secretsDirectory, wsPort);
        process.OutputDataReceived += (_, e) => gateway.Collect(e.Data);
        process.ErrorDataReceived += (_, e) => gateway.Collect(e.Data);
        try
        {
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            await gateway.WaitUpAsync(operatorClient);
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }

        return gateway;
    }

    /// <summary>The node's <c>configRevision</c> as the silo lists it (reported with its heartbeats); null when not listed.</summary>
    public async Task<long?> ListedRevisionAsync(HttpClient operatorClient)
    {
        var node = await FindAsync(operatorClient, NodeId);
        return node is { } n ? n.GetProperty("configRevision").GetInt64() : null;
    }

    private async Task WaitUpAsync(HttpClient operatorClient)
    {
        var started = Stopwatch.StartNew();
        var snapshot = Path.Combine(StateDirectory, SnapshotFileName);
        while (true)
        {
            if (_process.HasExited)
            {
                await _process.WaitForExitAsync();
                throw new BenchmarkFailedException($"gateway {NodeName} exited with status {_process.ExitCode}:\n{Output}");
            }

            if (await FindAsync(operatorClient, NodeName + "-") is { } node && node.GetProperty("status").GetString() == "up" && File.Exists(snapshot))
            {
                NodeId = node.GetProperty("id").GetString()!;
                return;
            }

            if (started.Elapsed > StartLimit)
            {
                throw new BenchmarkFailedException($"gateway {NodeName} was not up with a saved snapshot within {StartLimit.TotalSeconds} s:\n{Output}");
            }

            await Task.Delay(100);
        }
    }

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

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        catch (InvalidOperationException)
        {
            // Never started: nothing to stop.
        }

        _process.Dispose();
        foreach (var directory in new[] { StateDirectory, _secretsDirectory })
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    private void Collect(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Enqueue($"[{NodeName}] {line}");
            while (_output.Count > OutputLimit)
            {
                _output.Dequeue();
            }
        }
    }
}
