using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Text;
using Npgsql;
using Platform.Testing;

namespace Platform.Silo.Tests;

// /proc and file modes: the platform runs on Linux.
[SupportedOSPlatform("linux")]
public sealed class SecretsDirectoryTests
{
    private static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Silo_SecretsDirectory_ServesWithItsSecretsWhichNeitherEnvironNorCmdlineShow()
    {
        await using var database = await TestDatabase.CreateAsync();
        var secrets = new Dictionary<string, string>
        {
            ["Platform__ConnectionString"] = database.ConnectionString,
            ["Platform__MasterKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["Platform__OperatorKey"] = "op_" + Convert.ToHexString(RandomNumberGenerator.GetBytes(16)),
        };
        var directory = WriteSecretsDirectory(secrets);
        var url = new Uri($"http://127.0.0.1:{FreePorts.Tcp()}/");
        var log = new StringBuilder();
        using var silo = StartSilo(directory, url, log);
        using var client = new HttpClient { BaseAddress = url };
        try
        {
            await WaitHealthyAsync(silo, client, log);

            var asOperator = await SendAsync(client, "/v1/tenants", secrets["Platform__OperatorKey"]);
            var asStranger = await SendAsync(client, "/v1/tenants", "op_" + new string('0', 32));
            var environ = await File.ReadAllBytesAsync($"/proc/{silo.Id}/environ");
            var cmdline = await File.ReadAllBytesAsync($"/proc/{silo.Id}/cmdline");

            Assert.Equal(HttpStatusCode.OK, asOperator);
            Assert.Equal(HttpStatusCode.Unauthorized, asStranger);
            Assert.True(await MigratedAsync(database), "the silo did not migrate the database named in its connection string file");
            // The process read is the silo: it was given the directory's name, the one thing it is told openly.
            Assert.Contains("PLATFORM_SECRETS_DIR=" + directory, Encoding.UTF8.GetString(environ), StringComparison.Ordinal);
            foreach (var (name, value) in secrets)
            {
                Assert.False(Contains(environ, value), $"{name} is in /proc/{silo.Id}/environ");
                Assert.False(Contains(cmdline, value), $"{name} is in /proc/{silo.Id}/cmdline");
            }
        }
        finally
        {
            silo.Kill(entireProcessTree: true);
            await silo.WaitForExitAsync();
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>A directory of mode 700 with one file of mode 600 per secret, as infra/run.sh writes it.</summary>
    private static string WriteSecretsDirectory(IReadOnlyDictionary<string, string> secrets)
    {
        var directory = Directory.CreateTempSubdirectory("silo-secrets-").FullName;
        File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        foreach (var (name, value) in secrets)
        {
            var path = Path.Combine(directory, name);
            using (File.Create(path))
            {
            }

            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            File.WriteAllText(path, value);
        }

        return directory;
    }

    /// <summary>The built silo (the copy in this test's output) as its own process, configured like infra/run.sh does.</summary>
    private static Process StartSilo(string secretsDirectory, Uri url, StringBuilder log)
    {
        var output = AppContext.BaseDirectory;
        var info = new ProcessStartInfo("dotnet", [Path.Combine(output, "Platform.Silo.dll")])
        {
            WorkingDirectory = output,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var name in info.Environment.Keys.Where(k => k.StartsWith("Platform__", StringComparison.OrdinalIgnoreCase) || k == "PLATFORM_TEST_PG").ToList())
        {
            info.Environment.Remove(name);
        }

        info.Environment["PLATFORM_SECRETS_DIR"] = secretsDirectory;
        info.Environment["Urls"] = url.ToString().TrimEnd('/');
        info.Environment["Platform__Domain"] = "platform.test";
        info.Environment["Platform__AdminUrls"] = "http://127.0.0.1:0";
        info.Environment["Platform__Cluster__SiloPort"] = FreePorts.Tcp().ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["Platform__Cluster__GatewayPort"] = FreePorts.Tcp().ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var (key, value) in ClusterCertificates.Cluster.Silo.Settings())
        {
            info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, e) => Append(log, e.Data);
        process.ErrorDataReceived += (_, e) => Append(log, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static void Append(StringBuilder log, string? line)
    {
        lock (log)
        {
            log.Append(line).Append('\n');
        }
    }

    private static string Text(StringBuilder log)
    {
        lock (log)
        {
            return log.ToString();
        }
    }

    private static async Task WaitHealthyAsync(Process silo, HttpClient client, StringBuilder log)
    {
        var deadline = DateTime.UtcNow + StartLimit;
        while (true)
        {
            Assert.False(silo.HasExited, $"the silo exited during start-up:\n{Text(log)}");
            try
            {
                using var response = await client.GetAsync(new Uri("/healthz", UriKind.Relative));
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                // Not listening yet.
            }

            Assert.True(DateTime.UtcNow < deadline, $"the silo did not answer /healthz within {StartLimit}:\n{Text(log)}");
            await Task.Delay(100);
        }
    }

    private static async Task<HttpStatusCode> SendAsync(HttpClient client, string path, string bearer)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    private static async Task<bool> MigratedAsync(TestDatabase database)
    {
        await using var source = database.CreateDataSource();
        await using var connection = await source.OpenConnectionAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM schema_migrations", connection);
        return (long)(await command.ExecuteScalarAsync())! > 0;
    }

    private static bool Contains(byte[] haystack, string value) =>
        haystack.AsSpan().IndexOf(Encoding.UTF8.GetBytes(value)) >= 0;
}
