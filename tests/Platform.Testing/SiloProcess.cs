using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace Platform.Testing;

/// <summary>
/// The real silo as a child process (<c>dotnet Platform.Silo.dll</c> from the silo's own build output), started the
/// way <c>infra/run.sh</c> starts it: secrets as one file per setting in a private directory
/// (<c>PLATFORM_SECRETS_DIR</c>), its REST URL and cluster ports in the environment. Several processes started with
/// <see cref="StartAsync(SiloProcess, IDictionary{string, string})"/> form one Orleans cluster over one database.
/// Unlike <see cref="SiloApp"/> it can be killed with SIGKILL, as a crashed machine would stop it, and started again on
/// the same ports. Its stdout and stderr are kept in <see cref="Output"/> (the last lines) and, when the environment
/// variable <c>PLATFORM_TEST_SILO_LOG_DIR</c> names a directory, written there whole, one file per silo.
/// </summary>
public sealed class SiloProcess : IAsyncDisposable
{
    /// <summary>How long a silo gets to answer <c>/healthz</c> after it was started (migrations, joining the cluster).</summary>
    public static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(60);

    private const int OutputLimit = 400;
    private readonly Dictionary<string, string?> _environment;
    private readonly string _secretsDirectory;
    private readonly Queue<string> _output = new();
    private StreamWriter? _log;
    private Process? _process;
    private int _starts;

    private SiloProcess(
        string name, string assembly, Dictionary<string, string?> environment, string secretsDirectory, SiloSecrets secrets, int httpPort, int siloPort, int gatewayPort)
    {
        Name = name;
        AssemblyPath = assembly;
        _environment = environment;
        _secretsDirectory = secretsDirectory;
        Secrets = secrets;
        HttpPort = httpPort;
        SiloPort = siloPort;
        GatewayPort = gatewayPort;
        BaseAddress = new Uri($"http://127.0.0.1:{httpPort.ToString(CultureInfo.InvariantCulture)}/");
        if (Environment.GetEnvironmentVariable("PLATFORM_TEST_SILO_LOG_DIR") is { Length: > 0 } logs)
        {
            Directory.CreateDirectory(logs);
            _log = new StreamWriter(Path.Combine(logs, $"{name}-{siloPort.ToString(CultureInfo.InvariantCulture)}.log")) { AutoFlush = true };
        }
    }

    /// <summary>A short name for messages ("silo-1" for the first of a cluster).</summary>
    public string Name { get; }

    /// <summary>The <c>Platform.Silo.dll</c> this process runs: <see cref="SiloAssemblyPath"/> unless another build was named.</summary>
    public string AssemblyPath { get; }

    /// <summary>The keys every silo of the cluster shares.</summary>
    public SiloSecrets Secrets { get; }

    public string OperatorKey => Secrets.OperatorKey;


    public int HttpPort { get; }

    /// <summary>The Orleans silo-to-silo port.</summary>
    public int SiloPort { get; }

    /// <summary>The Orleans client gateway port.</summary>
    public int GatewayPort { get; }

    public Uri BaseAddress { get; }

    /// <summary>The process id of the current run, or null when it is not running.</summary>
    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The last lines the silo printed (stdout and stderr, every run), each prefixed with the name.</summary>
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
    /// Starts the first silo of a new cluster on <paramref name="database"/>; it runs the migrations. <paramref name="assembly"/>
    /// names another build of the silo (a benchmark's baseline); by default, <see cref="SiloAssemblyPath"/>.
    /// </summary>
    public static Task<SiloProcess> StartAsync(TestDatabase database, IDictionary<string, string?>? settings = null, string? assembly = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        var secrets = new SiloSecrets(
            database.ConnectionString,
            Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            "op_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16)));
        return StartAsync("silo-1", assembly ?? SiloAssemblyPath, secrets, settings);
    }

    /// <summary>Starts another silo that joins <paramref name="member"/>'s cluster: same database, keys and settings, ports of its own.</summary>
    public static Task<SiloProcess> StartAsync(SiloProcess member, IDictionary<string, string?>? settings = null)
    {
        ArgumentNullException.ThrowIfNull(member);
        var joined = new Dictionary<string, string?>(member._environment.Count);
        foreach (var (key, value) in member._environment)
        {
            joined[key] = value;
        }

        var index = int.Parse(member.Name.AsSpan("silo-".Length), CultureInfo.InvariantCulture) + 1;
        return StartAsync($"silo-{index.ToString(CultureInfo.InvariantCulture)}", member.AssemblyPath, member.Secrets, settings, joined);
    }

    private static async Task<SiloProcess> StartAsync(
        string name, string assembly, SiloSecrets secrets, IDictionary<string, string?>? settings, Dictionary<string, string?>? inherited = null)
    {
        // A port found free may be taken by another test before the silo binds it: start again on other ports.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await StartOnFreePortsAsync(name, assembly, secrets, settings, inherited is null ? null : new Dictionary<string, string?>(inherited));
            }
            catch (InvalidOperationException ex) when (attempt < 3 && ex.Message.Contains("Address already in use", StringComparison.Ordinal))
            {
                Console.Error.WriteLine($"{name}: a port was taken before it bound it; starting again on other ports (attempt {attempt + 1}).");
            }
        }
    }

    private static async Task<SiloProcess> StartOnFreePortsAsync(
        string name, string assembly, SiloSecrets secrets, IDictionary<string, string?>? settings, Dictionary<string, string?>? inherited)
    {
        var httpPort = FreePorts.Tcp();
        var siloPort = FreePorts.Tcp();
        var gatewayPort = FreePorts.Tcp();
        var environment = inherited ?? SiloTestSettings.Defaults();
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            environment[key] = value;
        }

        environment["Urls"] = $"http://127.0.0.1:{httpPort.ToString(CultureInfo.InvariantCulture)}";
        environment["Platform:Cluster:ListenAddress"] = "127.0.0.1";
        environment["Platform:Cluster:SiloPort"] = siloPort.ToString(CultureInfo.InvariantCulture);
        environment["Platform:Cluster:GatewayPort"] = gatewayPort.ToString(CultureInfo.InvariantCulture);

        // Created with mode 0700 on Unix: only this user reads the files in it.
        var secretsDirectory = Directory.CreateTempSubdirectory("silo-secrets-").FullName;
        await WriteSecretAsync(secretsDirectory, "Platform__ConnectionString", secrets.ConnectionString);
        await WriteSecretAsync(secretsDirectory, "Platform__MasterKey", secrets.MasterKey);
        await WriteSecretAsync(secretsDirectory, "Platform__OperatorKey", secrets.OperatorKey);

        var silo = new SiloProcess(name, assembly, environment, secretsDirectory, secrets, httpPort, siloPort, gatewayPort);
        try
        {
            await silo.StartAgainAsync();
        }
        catch
        {
            await silo.DisposeAsync();
            throw;
        }

        return silo;
    }

    /// <summary>
    /// Starts the process (again, after <see cref="KillAsync"/> or <see cref="StopAsync"/>) on the same ports with the
    /// same settings, and waits until <c>/healthz</c> answers: by then the silo has migrated and joined the cluster.
    /// </summary>
    public async Task StartAgainAsync()
    {
        if (IsRunning)
        {
            throw new InvalidOperationException($"{Name} is running.");
        }

        _process?.Dispose();
        var run = ++_starts;
        var prefix = run == 1 ? Name : $"{Name} (run {run.ToString(CultureInfo.InvariantCulture)})";
        var process = AppProcess.Start(AssemblyPath, _secretsDirectory, _environment, line => Collect(prefix, line));
        _process = process;
        await WaitHealthyAsync(process);
    }

    /// <summary>Kills the process with SIGKILL: no shutdown hook runs, Orleans leaves nothing behind but its membership row.</summary>
    public async Task KillAsync()
    {
        var process = _process ?? throw new InvalidOperationException($"{Name} was never started.");
        if (!process.HasExited)
        {
            // Process.Kill sends SIGKILL on Unix; only the silo process itself, as a crash would end it.
            process.Kill(entireProcessTree: false);
        }

        await process.WaitForExitAsync();
    }

    /// <summary>Stops the process with SIGTERM and waits for its graceful shutdown (Orleans leaves the cluster); kills it after <paramref name="limit"/>.</summary>
    public async Task StopAsync(TimeSpan limit)
    {
        var process = _process;
        if (process is null || process.HasExited)
        {
            return;
        }

        using (var signal = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", process.Id.ToString(CultureInfo.InvariantCulture) }, UseShellExecute = false })!)
        {
            await signal.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Collect(Name, $"did not stop within {limit.TotalSeconds} s of SIGTERM; killed");
            await KillAsync();
        }
    }

    /// <summary>A client with the operator key, on a new connection.</summary>
    public HttpClient OperatorClient()
    {
        var client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromSeconds(30) })
        {
            BaseAddress = BaseAddress,
            Timeout = TimeSpan.FromSeconds(60),
        };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", OperatorKey);
        return client;
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

        if (Directory.Exists(_secretsDirectory))
        {
            Directory.Delete(_secretsDirectory, recursive: true);
        }

        lock (_output)
        {
            _log?.Dispose();
            _log = null;
        }
    }

    /// <summary>
    /// The silo's own build output, of the configuration the tests were built in: the test projects reference the
    /// silo project, so it is built with them.
    /// </summary>
    public static string SiloAssemblyPath => LazySiloAssemblyPath.Value;

    private static readonly Lazy<string> LazySiloAssemblyPath =
        new(() => AppProcess.BuildOutput(typeof(SiloProcess).Assembly, "silo", "Platform.Silo"));

    private static Task WriteSecretAsync(string directory, string name, string value) =>
        File.WriteAllTextAsync(Path.Combine(directory, name), value, Encoding.UTF8);

    private async Task WaitHealthyAsync(Process process)
    {
        using var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var started = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                await process.WaitForExitAsync();
                throw new InvalidOperationException($"{Name} exited with status {process.ExitCode} before it answered /healthz:\n{Output}");
            }

            try
            {
                using var response = await client.GetAsync(new Uri("/healthz", UriKind.Relative));
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet: Kestrel starts after the migrations and Orleans' join.
            }

            if (started.Elapsed > StartLimit)
            {
                throw new TimeoutException($"{Name} did not answer /healthz within {StartLimit.TotalSeconds} s:\n{Output}");
            }

            await Task.Delay(100);
        }
    }

    private void Collect(string prefix, string line)
    {
        lock (_output)
        {
            _output.Enqueue($"[{prefix}] {line}");
            _log?.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} [{prefix}] {line}");
            while (_output.Count > OutputLimit)
            {
                _output.Dequeue();
            }
        }
    }
}
