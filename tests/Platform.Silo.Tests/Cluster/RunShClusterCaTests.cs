using System.Diagnostics;
using System.Runtime.Versioning;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;
using Platform.Cluster.Tls;
using Platform.Testing;

namespace Platform.Silo.Tests.Cluster;

/// <summary>
/// The cluster CA of <c>infra/run.sh</c> (<c>infra/lib/cluster-ca.sh</c>, run with bash and openssl): what it writes is
/// what a silo and a gateway load, it keeps the CA and good certificates, and it issues a leaf again before it expires.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class RunShClusterCaTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("run-sh-ca-").FullName;

    private string CaDirectory => Path.Combine(_directory, "cluster-ca");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task FirstRun_CaAndLeaves_LoadAsSiloAndGatewayAndConnect()
    {
        await RunAsync("cluster_ca_init \"$1\"; cluster_ca_leaf \"$1\" silo serverAuth,clientAuth; cluster_ca_leaf \"$1\" gateway-1 clientAuth");

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(CaDirectory));
        foreach (var key in new[] { "ca.key", "silo.key", "gateway-1.key" })
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(CaDirectory, key)));
        }

        var silo = Files("silo");
        var gateway = Files("gateway-1");
        Assert.Equal(ClusterTlsRole.Silo, silo.Load(ClusterTlsRole.Silo).Role);
        Assert.Contains("lacks server authentication", Assert.Throws<InvalidOperationException>(() => gateway.Load(ClusterTlsRole.Silo)).Message, StringComparison.Ordinal);
        using (var ca = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(CaDirectory, "ca.crt")))
        using (var caKey = ca.GetECDsaPublicKey())
        {
            Assert.Equal(256, caKey?.KeySize);
        }

        // What run.sh hands the silo and a gateway carries a real grain call.
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new SiloApp(database, silo.Settings());
        var port = app.Services.GetRequiredService<IOptions<EndpointOptions>>().Value.GatewayPort;
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client =>
        {
            client.UseStaticClustering(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port));
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = "platform";
                o.ServiceId = "platform";
            });
            client.UseConnectionRetryFilter(static (_, _) => Task.FromResult(false));
            client.UsePlatformTls(gateway.Load(ClusterTlsRole.Client));
        });
        using var host = builder.Build();
        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Single(await host.Services.GetRequiredService<IClusterClient>().GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true));
    }

    [Fact]
    public async Task LaterRun_KeepsCaAndGoodLeaf_ReissuesLeafExpiringWithin30Days()
    {
        const string Run = "cluster_ca_init \"$1\"; cluster_ca_leaf \"$1\" silo serverAuth,clientAuth; cluster_ca_leaf \"$1\" gateway-1 clientAuth";
        await RunAsync(Run);
        var ca = await File.ReadAllTextAsync(Path.Combine(CaDirectory, "ca.crt"));
        var silo = await File.ReadAllTextAsync(Path.Combine(CaDirectory, "silo.crt"));
        // gateway-1 is replaced by a certificate of the same CA that ends in ten days.
        await RunAsync("cluster_ca_leaf_days=10; rm \"$1/gateway-1.crt\"; cluster_ca_leaf \"$1\" gateway-1 clientAuth");
        using (var shortLived = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(CaDirectory, "gateway-1.crt")))
        {
            Assert.True(shortLived.NotAfter < DateTime.Now.AddDays(11));
        }

        await RunAsync(Run);

        Assert.Equal(ca, await File.ReadAllTextAsync(Path.Combine(CaDirectory, "ca.crt")));
        Assert.Equal(silo, await File.ReadAllTextAsync(Path.Combine(CaDirectory, "silo.crt")));
        using var renewed = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(CaDirectory, "gateway-1.crt"));
        Assert.True(renewed.NotAfter > DateTime.Now.AddDays(300));
        Files("gateway-1").Load(ClusterTlsRole.Client);
    }

    [Fact]
    public async Task NewCa_AddedToBundleBesideOld_LeavesOfBothLoad()
    {
        const string Run = "cluster_ca_init \"$1\"; cluster_ca_leaf \"$1\" silo serverAuth,clientAuth; cluster_ca_leaf \"$1\" gateway-1 clientAuth";
        await RunAsync(Run);
        // A gateway elsewhere keeps a certificate of the old CA while this machine moves to a new one.
        var old = Path.Combine(_directory, "old");
        Directory.CreateDirectory(old);
        foreach (var file in new[] { "ca.key", "ca.crt", "gateway-1.crt", "gateway-1.key" })
        {
            File.Move(Path.Combine(CaDirectory, file), Path.Combine(old, file));
        }

        await RunAsync(Run);

        var bundle = new X509Certificate2Collection();
        bundle.ImportFromPemFile(Path.Combine(CaDirectory, "ca-bundle.crt"));
        Assert.Equal(2, bundle.Count);
        Files("silo").Load(ClusterTlsRole.Silo);
        Files("gateway-1").Load(ClusterTlsRole.Client);
        var oldGateway = new ClusterCertificateFiles(Path.Combine(old, "gateway-1.crt"), Path.Combine(old, "gateway-1.key"), Path.Combine(CaDirectory, "ca-bundle.crt"));
        oldGateway.Load(ClusterTlsRole.Client);
        using var silo = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(CaDirectory, "silo.crt"));
        using var newCa = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(CaDirectory, "ca.crt"));
        using var oldCa = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(old, "ca.crt"));
        Assert.NotEqual(oldCa.Subject, newCa.Subject);
        Assert.Equal(newCa.Subject, silo.Issuer);
    }

    [Fact]
    public async Task LaterRun_CaKeyLost_StopsInsteadOfReplacingCa()
    {
        await RunAsync("cluster_ca_init \"$1\"");
        File.Delete(Path.Combine(CaDirectory, "ca.key"));

        var (status, error) = await RunAsync("cluster_ca_init \"$1\"", expectSuccess: false);

        Assert.NotEqual(0, status);
        Assert.Contains("has no ca.key beside it", error, StringComparison.Ordinal);
    }

    private ClusterCertificateFiles Files(string name) => new(
        Path.Combine(CaDirectory, name + ".crt"), Path.Combine(CaDirectory, name + ".key"), Path.Combine(CaDirectory, "ca-bundle.crt"));

    private async Task<(int Status, string Error)> RunAsync(string script, bool expectSuccess = true)
    {
        var root = RepositoryRoot();
        var info = new ProcessStartInfo("bash")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"set -euo pipefail; source infra/lib/postgres.sh; source infra/lib/cluster-ca.sh; {script}");
        info.ArgumentList.Add("run-sh-ca");
        info.ArgumentList.Add(CaDirectory);
        info.WorkingDirectory = root;
        using var process = Process.Start(info)!;
        var error = process.StandardError.ReadToEndAsync();
        _ = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        if (expectSuccess && process.ExitCode != 0)
        {
            throw new InvalidOperationException($"bash exited with {process.ExitCode}: {await error}");
        }

        return (process.ExitCode, await error);
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Platform.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Platform.sln above {AppContext.BaseDirectory}.");
    }
}
