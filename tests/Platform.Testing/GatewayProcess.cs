using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using Platform.Contracts;

namespace Platform.Testing;

/// <summary>
/// A real gateway as a child process (<c>dotnet Platform.Gateway.dll</c>), started the way <c>infra/run.sh</c> starts
/// it: secrets as files in a private directory (<c>PLATFORM_SECRETS_DIR</c>), every other setting in the environment,
/// a state directory of its own. The caller names the settings, the secrets and when the gateway counts as started
/// (<see cref="Serving"/> for <c>/healthz</c>, or the caller's own condition). Unlike an in-process gateway it can be
/// killed with SIGKILL, as a crashed machine would stop it: nothing of it runs afterwards, not even a shutdown hook.
/// Its stdout and stderr are kept in <see cref="Output"/>.
/// </summary>
public sealed class GatewayProcess : IAsyncDisposable
{
    /// <summary>How long a gateway gets to become ready after it was started.</summary>
    public static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(60);

    private const int OutputLimit = 400;
    private static readonly HttpClient HealthClient = new() { Timeout = TimeSpan.FromSeconds(5) };
    private readonly IReadOnlyDictionary<string, string?> _settings;
    private readonly string _secretsDirectory;
    private readonly Queue<string> _output = new();
    private Process? _process;

    private GatewayProcess(string name, IReadOnlyDictionary<string, string?> settings, string secretsDirectory, string stateDirectory)
    {
        Name = name;
        _settings = settings;
        _secretsDirectory = secretsDirectory;
        StateDirectory = stateDirectory;
    }

    /// <summary>A short name for messages; each line of <see cref="Output"/> starts with it.</summary>
    public string Name { get; }

    /// <summary>Where it keeps its fail-static snapshot (<c>Platform:StateDirectory</c>), made for it and removed on dispose.</summary>
    public string StateDirectory { get; }

    /// <summary>The node id the readiness check found (every connection id the gateway assigns starts with it).</summary>
    public string NodeId { get; private set; } = "";

    /// <summary>The process id of the gateway itself (the <c>dotnet</c> host runs the application in its own process).</summary>
    public int ProcessId => Started.Id;

    public bool HasExited => Started.HasExited;

    /// <summary>The plain WebSocket port it was given (<c>Platform:WsPort</c>).</summary>
    public int WsPort => Port("Platform:WsPort");

    /// <summary>The admin listener's port it was given (<c>Platform:AdminPort</c>).</summary>
    public int AdminPort => Port("Platform:AdminPort");

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

    /// <summary>The gateway's own build output, of the configuration the tests were built in.</summary>
    public static string GatewayAssemblyPath => LazyGatewayAssemblyPath.Value;

    private static readonly Lazy<string> LazyGatewayAssemblyPath =
        new(() => AppProcess.BuildOutput(typeof(GatewayProcess).Assembly, "gateway", "Platform.Gateway"));

    private Process Started => _process ?? throw new InvalidOperationException($"{Name} was never started.");

    /// <summary>
    /// Starts <paramref name="assembly"/> (by default <see cref="GatewayAssemblyPath"/>) with <paramref name="settings"/>
    /// (<c>Platform:…</c> keys; <c>Platform:StateDirectory</c> is added) and <paramref name="secrets"/> (file name, such as
    /// <c>Platform__SnapshotKey</c>, to content), and polls <paramref name="ready"/> every 100 ms until it returns the
    /// gateway's node id. Fails when the process exits first or is not ready within <see cref="StartLimit"/>.
    /// </summary>
    public static async Task<GatewayProcess> StartAsync(
        string name,
        IReadOnlyDictionary<string, string?> settings,
        IReadOnlyDictionary<string, string> secrets,
        Func<GatewayProcess, Task<string?>> ready,
        string? assembly = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(secrets);
        ArgumentNullException.ThrowIfNull(ready);
        var stateDirectory = Directory.CreateTempSubdirectory("gw-state-").FullName;
        // Created with mode 0700 on Unix: only this user reads the files in it.
        var secretsDirectory = Directory.CreateTempSubdirectory("gw-secrets-").FullName;
        var values = new Dictionary<string, string?>(settings) { ["Platform:StateDirectory"] = stateDirectory };
        var gateway = new GatewayProcess(name, values, secretsDirectory, stateDirectory);
        try
        {
            foreach (var (file, value) in secrets)
            {
                await File.WriteAllTextAsync(Path.Combine(secretsDirectory, file), value, Encoding.UTF8);
            }

            gateway._process = AppProcess.Start(assembly ?? GatewayAssemblyPath, secretsDirectory, values, gateway.Collect);
            await gateway.WaitReadyAsync(ready);
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }

        return gateway;
    }

    /// <summary>
    /// Ready once the admin listener on <paramref name="adminPort"/> answers <c>/healthz</c> that the gateway has
    /// registered with its silo and serves a configuration; the node id is the one it answers.
    /// </summary>
    public static Func<GatewayProcess, Task<string?>> Serving(int adminPort) => async _ =>
    {
        try
        {
            var uri = new Uri($"http://127.0.0.1:{adminPort.ToString(CultureInfo.InvariantCulture)}/healthz");
            var health = await HealthClient.GetFromJsonAsync<Health>(uri, PlatformJson.Options);
            return health is { Registered: true, ConfigRevision: > 0 } ? health.NodeId : null;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            // Not listening yet.
            return null;
        }
    };

    /// <summary>The port setting <paramref name="key"/> it was started with.</summary>
    public int Port(string key) =>
        _settings.TryGetValue(key, out var value) && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port > 0
            ? port
            : throw new InvalidOperationException($"{Name} was started without a port in {key}.");

    /// <summary>
    /// Kills the gateway with SIGKILL (Process.Kill on Unix), only the gateway process itself, and waits until it is
    /// gone. Fails when the process is not the gateway (its command line must name Platform.Gateway.dll).
    /// </summary>
    public async Task KillAsync()
    {
        var process = Started;
        var commandLine = (await File.ReadAllTextAsync($"/proc/{process.Id.ToString(CultureInfo.InvariantCulture)}/cmdline")).Replace('\0', ' ');
        if (!commandLine.Contains("Platform.Gateway.dll", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"Process {process.Id} is not the gateway: {commandLine}");
        }

        process.Kill(entireProcessTree: false);
        await process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { } process)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            process.Dispose();
        }

        foreach (var directory in new[] { _secretsDirectory, StateDirectory })
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    private async Task WaitReadyAsync(Func<GatewayProcess, Task<string?>> ready)
    {
        var process = Started;
        var started = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                await process.WaitForExitAsync();
                throw new InvalidOperationException($"{Name} exited with status {process.ExitCode} before it was ready:\n{Output}");
            }

            if (await ready(this) is { } nodeId)
            {
                NodeId = nodeId;
                return;
            }

            if (started.Elapsed > StartLimit)
            {
                throw new TimeoutException($"{Name} was not ready within {StartLimit.TotalSeconds} s:\n{Output}");
            }

            await Task.Delay(100);
        }
    }

    private void Collect(string line)
    {
        lock (_output)
        {
            _output.Enqueue($"[{Name}] {line}");
            while (_output.Count > OutputLimit)
            {
                _output.Dequeue();
            }
        }
    }

    private sealed record Health(string NodeId, long ConfigRevision, bool ClusterConnected, bool Registered);
}
