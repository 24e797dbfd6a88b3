using System.Diagnostics;

namespace Platform.Gateway.Tests.Support;

/// <summary>Runs a script of <c>tests/clients</c> under Node with a time limit; the process never outlives the call.</summary>
internal static class NodeClient
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    /// <summary>The <c>tests/clients</c> folder, found by walking up from the test binaries.</summary>
    public static string ClientsDirectory
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "tests", "clients");
                if (File.Exists(Path.Combine(candidate, "package.json")))
                {
                    return candidate;
                }
            }

            throw new InvalidOperationException($"tests/clients/package.json not found above {AppContext.BaseDirectory}.");
        }
    }

    /// <summary>Runs <c>node script args...</c>; fails the test with a clear message when Node or node_modules are missing.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string script, params string[] args)
    {
        var clients = ClientsDirectory;
        Assert.True(
            Directory.Exists(Path.Combine(clients, "node_modules", "ws")),
            $"Node's ws package is missing: run `npm ci` in {clients} (infra/test.sh does).");

        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = clients,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(clients, script));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("node did not start.");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"Node.js is required for this test but `node` could not be started ({ex.Message}); install nodejs.", ex);
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var limit = new CancellationTokenSource(Limit);
            try
            {
                await process.WaitForExitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"node {script} did not finish within {Limit.TotalSeconds} s.");
            }
            finally
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync(CancellationToken.None);
                }
            }

            return (process.ExitCode, await stdout, await stderr);
        }
    }
}
