using System.Diagnostics;
using System.Globalization;
using System.Net;
using Platform.Testing;

namespace Platform.Benchmarks;

/// <summary>
/// One silo process of a build under test, started as operators start it (<c>dotnet Platform.Silo.dll</c>) on
/// loopback ports of its own, over the run's database. Its last lines of output are kept to explain a failed start.
/// </summary>
internal sealed class BenchSilo : IAsyncDisposable
{
    private static readonly TimeSpan ReadyWithin = TimeSpan.FromSeconds(90);
    private const int KeptLines = 40;
    private readonly Process _process;
    private readonly Queue<string> _output = new();

    private BenchSilo(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Uri BaseAddress { get; }

    /// <summary>Starts a silo of <paramref name="build"/> and waits until it answers <c>/healthz</c>.</summary>
    public static async Task<BenchSilo> StartAsync(SiloBuild build, string connectionString, SiloKeys keys, string name)
    {
        var httpPort = FreePorts.Tcp();
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(build.SiloDll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(build.SiloDll);
        var environment = start.Environment;
        environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        environment["Urls"] = string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{httpPort}");
        environment["Platform__ConnectionString"] = connectionString;
        environment["Platform__MasterKey"] = keys.MasterKey;
        environment["Platform__OperatorKey"] = keys.OperatorKey;
        environment["Platform__ClusterSecret"] = keys.ClusterSecret;
        environment["Platform__Domain"] = "platform.test";
        // Host-name checks would ask DNS: a closed loopback port, never the system's resolvers.
        environment["Platform__DnsServers__0"] = "127.0.0.1:9";
        // Orleans (a build that has it) listens on loopback ports of its own; silos of one run share the database and so the cluster.
        environment["Platform__Cluster__SiloPort"] = FreePorts.Tcp().ToString(CultureInfo.InvariantCulture);
        environment["Platform__Cluster__GatewayPort"] = FreePorts.Tcp().ToString(CultureInfo.InvariantCulture);
        environment["Logging__LogLevel__Default"] = "Warning";
        environment["Logging__LogLevel__Microsoft.AspNetCore"] = "Warning";
        foreach (var (key, value) in build.Settings)
        {
            environment[key] = value;
        }

        var process = Process.Start(start) ?? throw new BenchmarkFailedException($"could not start {build.SiloDll}");
        var silo = new BenchSilo(process, new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{httpPort}/")));
        try
        {
            await silo.WaitReadyAsync($"{build.Name} silo {name}");
        }
        catch
        {
            await silo.DisposeAsync();
            throw;
        }

        return silo;
    }

    /// <summary>SIGKILL: the process gets no chance to leave the cluster or finish a request.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
    }

    private async Task WaitReadyAsync(string what)
    {
        using var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.GetTimestamp() + (long)(ReadyWithin.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (_process.HasExited)
            {
                throw new BenchmarkFailedException($"{what} exited with code {_process.ExitCode} while starting:\n{Tail()}");
            }

            try
            {
                using var response = await client.GetAsync(new Uri("/healthz", UriKind.Relative));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException)
            {
                // Listening but not answering yet.
            }

            await Task.Delay(100);
        }

        throw new BenchmarkFailedException($"{what} did not answer /healthz within {ReadyWithin.TotalSeconds} s:\n{Tail()}");
    }

    private string Tail()
    {
        lock (_output)
        {
            return string.Join('\n', _output);
        }
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Enqueue(line);
            if (_output.Count > KeptLines)
            {
                _output.Dequeue();
            }
        }
    }
}
