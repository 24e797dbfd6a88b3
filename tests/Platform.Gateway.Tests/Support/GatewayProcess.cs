using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Reflection;
using System.Text;
using Platform.Contracts;
using Platform.Testing;

namespace Platform.Gateway.Tests.Support;

/// <summary>
/// The real gateway as a child process (<c>dotnet Platform.Gateway.dll</c> from the gateway's own build output), started
/// the way <c>infra/run.sh</c> and the benchmarks start it: its snapshot key as a file in a private secrets directory
/// (<c>PLATFORM_SECRETS_DIR</c>), every other setting in the environment, listeners on free loopback ports. Unlike
/// <see cref="TestGateway"/> it can be killed with SIGKILL, as a crashed machine would stop it: nothing of it runs
/// afterwards, not even a shutdown hook. Its stdout and stderr are kept in <see cref="Output"/>.
/// </summary>
internal sealed class GatewayProcess : IAsyncDisposable
{
    /// <summary>How long a gateway gets to register with its silo and serve a configuration after it was started.</summary>
    public static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(60);

    private const int OutputLimit = 400;
    private readonly Process _process;
    private readonly string _secretsDirectory;
    private readonly string _stateDirectory;
    private readonly Queue<string> _output = new();

    private GatewayProcess(Process process, string secretsDirectory, string stateDirectory, int wsPort, int adminPort)
    {
        _process = process;
        _secretsDirectory = secretsDirectory;
        _stateDirectory = stateDirectory;
        WsPort = wsPort;
        AdminPort = adminPort;
    }

    public int WsPort { get; }

    public int AdminPort { get; }

    /// <summary>The node id the gateway answered on <c>/healthz</c> (every connection id it assigns starts with it).</summary>
    public string NodeId { get; private set; } = "";

    /// <summary>The process id of the gateway itself (the <c>dotnet</c> host runs the application in its own process).</summary>
    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    public Uri WsUri(string slug, string path = "") => new($"ws://127.0.0.1:{WsPort.ToString(CultureInfo.InvariantCulture)}/t/{slug}/{path}");

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
    /// Starts a gateway whose cluster client connects to <paramref name="siloEndpoint"/> and waits until it has registered
    /// and serves a configuration. <paramref name="settings"/> are <c>Platform:…</c> keys, as for <see cref="TestGateway"/>.
    /// </summary>
    public static async Task<GatewayProcess> StartAsync(string siloEndpoint, IDictionary<string, string?>? settings = null)
    {
        var wsPort = FreePorts.Tcp();
        var adminPort = FreePorts.Tcp();
        var values = new Dictionary<string, string?>
        {
            ["Platform:SiloEndpoints:0"] = siloEndpoint,
            ["Platform:NodeName"] = "gwproc",
            ["Platform:PlatformDomain"] = "platform.test",
            ["Platform:ListenAddress"] = "127.0.0.1",
            ["Platform:WsPort"] = wsPort.ToString(CultureInfo.InvariantCulture),
            ["Platform:WssPort"] = FreePorts.Tcp().ToString(CultureInfo.InvariantCulture),
            ["Platform:TlsPort"] = FreePorts.Tcp().ToString(CultureInfo.InvariantCulture),
            ["Platform:DtlsPort"] = "-1",
            ["Platform:AdminPort"] = adminPort.ToString(CultureInfo.InvariantCulture),
            ["Platform:LeaseSyncMilliseconds"] = "100",
            ["Platform:EventFlushMilliseconds"] = "100",
            ["Platform:CounterReportSeconds"] = "1",
            ["Platform:ConfigWaitSeconds"] = "2",
            // The tests' backends listen on loopback, which the default egress policy refuses.
            ["Platform:Egress:AllowedRanges:0"] = "127.0.0.0/8",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in ClusterCertificates.Cluster.Gateway.Settings())
        {
            values[key] = value;
        }

        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            values[key] = value;
        }

        // Created with mode 0700 on Unix: only this user reads the files in it.
        var secretsDirectory = Directory.CreateTempSubdirectory("gw-secrets-").FullName;
        var stateDirectory = Directory.CreateTempSubdirectory("gw-proc-state-").FullName;
        values["Platform:StateDirectory"] = stateDirectory;
        await File.WriteAllTextAsync(Path.Combine(secretsDirectory, "Platform__SnapshotKey"), TestGateway.SnapshotKey, Encoding.UTF8);

        var assembly = GatewayAssemblyPath;
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(assembly)!,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(assembly);
        info.Environment["PLATFORM_SECRETS_DIR"] = secretsDirectory;
        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        foreach (var (key, value) in values)
        {
            info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var process = new Process { StartInfo = info };
        var gateway = new GatewayProcess(process, secretsDirectory, stateDirectory, wsPort, adminPort);
        process.OutputDataReceived += (_, e) => gateway.Collect(e.Data);
        process.ErrorDataReceived += (_, e) => gateway.Collect(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await gateway.WaitServingAsync();
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }

        return gateway;
    }

    /// <summary>
    /// Kills the gateway with SIGKILL (Process.Kill on Unix), only the gateway process itself, and waits until it is
    /// gone. Fails when the process is not the gateway (its command line must name Platform.Gateway.dll).
    /// </summary>
    public async Task KillAsync()
    {
        var commandLine = (await File.ReadAllTextAsync($"/proc/{_process.Id.ToString(CultureInfo.InvariantCulture)}/cmdline")).Replace('\0', ' ');
        if (!commandLine.Contains("Platform.Gateway.dll", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"Process {_process.Id} is not the gateway: {commandLine}");
        }

        _process.Kill(entireProcessTree: false);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        foreach (var directory in new[] { _secretsDirectory, _stateDirectory })
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    /// <summary>The gateway's own build output, of the configuration the tests were built in (the tests reference the project).</summary>
    public static string GatewayAssemblyPath => LazyGatewayAssemblyPath.Value;

    private static readonly Lazy<string> LazyGatewayAssemblyPath = new(FindGatewayAssembly);

    private static string FindGatewayAssembly()
    {
        var configuration = typeof(GatewayProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Platform.sln")))
            {
                var path = Path.Combine(directory.FullName, "gateway", "Platform.Gateway", "bin", configuration, "net10.0", "Platform.Gateway.dll");
                return File.Exists(path)
                    ? path
                    : throw new InvalidOperationException($"{path} does not exist: build gateway/Platform.Gateway in {configuration} first.");
            }
        }

        throw new InvalidOperationException($"No Platform.sln above {AppContext.BaseDirectory}: cannot find the gateway's build output.");
    }

    /// <summary>Polls the admin listener's <c>/healthz</c> until the gateway has registered and serves a configuration.</summary>
    private async Task WaitServingAsync()
    {
        using var client = new HttpClient
        {
            BaseAddress = new Uri($"http://127.0.0.1:{AdminPort.ToString(CultureInfo.InvariantCulture)}/"),
            Timeout = TimeSpan.FromSeconds(5),
        };
        var started = Stopwatch.StartNew();
        while (true)
        {
            if (_process.HasExited)
            {
                await _process.WaitForExitAsync();
                throw new InvalidOperationException($"The gateway exited with status {_process.ExitCode} before it served:\n{Output}");
            }

            try
            {
                var health = await client.GetFromJsonAsync<Health>(new Uri("/healthz", UriKind.Relative), PlatformJson.Options);
                if (health is { Registered: true, ConfigRevision: > 0 })
                {
                    NodeId = health.NodeId;
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }

            if (started.Elapsed > StartLimit)
            {
                throw new TimeoutException($"The gateway did not register and serve within {StartLimit.TotalSeconds} s:\n{Output}");
            }

            await Task.Delay(100);
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
            _output.Enqueue(line);
            while (_output.Count > OutputLimit)
            {
                _output.Dequeue();
            }
        }
    }

    private sealed record Health(string NodeId, long ConfigRevision, bool ClusterConnected, bool Registered);
}
