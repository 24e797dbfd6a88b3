using System.Net.Http.Json;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Platform.Contracts;
using Platform.Contracts.Gateways;
using Platform.Contracts.Tenants;
using Platform.Gateway.Hosting;
using Platform.Gateway.Silo;
using Platform.Gateway.Tenants;
using Platform.Gateway.Tests.Support;
using Platform.Testing;

namespace Platform.Gateway.Tests.Hosting;

// File modes: the platform runs on Linux.
[SupportedOSPlatform("linux")]
public sealed class GatewayHostTests
{
    [Fact]
    public async Task Build_SecretsDirectory_SnapshotKeyFromItsFileSealsTheSnapshotAndTheGatewayRegisters()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        var secrets = Directory.CreateTempSubdirectory("gw-secrets-");
        var state = Directory.CreateTempSubdirectory("gw-state-");
        try
        {
            File.SetUnixFileMode(secrets.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
            var file = Path.Combine(secrets.FullName, "Platform__SnapshotKey");
            await File.WriteAllTextAsync(file, key + "\n");
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            var nodeName = "gwsecrets" + Guid.NewGuid().ToString("N")[..6];

            // Everything but the key comes from ordinary settings; the key only from the file.
            await using var app = GatewayHost.Build([$"--PLATFORM_SECRETS_DIR={secrets.FullName}"], builder =>
            {
                builder.Configuration.AddInMemoryCollection(Settings(silo.ClusterEndpoint, nodeName, state.FullName));
                builder.Logging.SetMinimumLevel(LogLevel.Warning);
            });
            await app.StartAsync();
            var registration = app.Services.GetRequiredService<GatewayRegistration>();
            var persistence = app.Services.GetRequiredService<SnapshotPersistence>();
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            while (!registration.Registered || !File.Exists(persistence.FilePath))
            {
                await Task.Delay(20, limit.Token);
            }

            var listed = await silo.Operator.GetFromJsonAsync<Page<GatewayResponse>>(new Uri("/v1/gateways", UriKind.Relative), PlatformJson.Options);
            Assert.Contains(listed!.Items, g => g.Id.StartsWith(nodeName, StringComparison.Ordinal));
            await app.StopAsync();

            // Sealed under the file's key: that key opens it, another does not.
            var options = new GatewayOptions { SnapshotKey = key, StateDirectory = state.FullName };
            Assert.NotNull(new SnapshotPersistence(Options.Create(options), NullLogger<SnapshotPersistence>.Instance).TryLoad());
            options.SnapshotKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
            Assert.Null(new SnapshotPersistence(Options.Create(options), NullLogger<SnapshotPersistence>.Instance).TryLoad());
        }
        finally
        {
            secrets.Delete(recursive: true);
            state.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData(null, "SnapshotKey")]
    [InlineData("c2hvcnQ=", "SnapshotKey")]
    [InlineData("not base64 at all", "SnapshotKey")]
    public async Task Start_SnapshotKeyMissingOrNot32Bytes_RefusesToStartNamingIt(string? key, string named)
    {
        var state = Directory.CreateTempSubdirectory("gw-state-");
        try
        {
            var settings = Settings("127.0.0.1:9", "gwnokey", state.FullName);
            settings["Platform:SnapshotKey"] = key;

            var refused = await Assert.ThrowsAsync<OptionsValidationException>(() => BuildAndStartAsync(settings));
            Assert.Contains(named, refused.Message, StringComparison.Ordinal);
        }
        finally
        {
            state.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Start_ClusterCertificateMissing_RefusesToStartNamingIt()
    {
        var state = Directory.CreateTempSubdirectory("gw-state-");
        try
        {
            var settings = Settings("127.0.0.1:9", "gwnocert", state.FullName);
            settings["Platform:SnapshotKey"] = TestGateway.SnapshotKey;
            settings["Platform:Cluster:Tls:CertificatePath"] = Path.Combine(state.FullName, "missing.crt");

            var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => BuildAndStartAsync(settings));
            Assert.Contains("Platform:Cluster:Tls:CertificatePath", refused.Message, StringComparison.Ordinal);
        }
        finally
        {
            state.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("silo.example:30000")]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.1:0")]
    public async Task Start_SiloEndpointNotAnAddressWithAPort_RefusesToStartNamingIt(string endpoint)
    {
        var state = Directory.CreateTempSubdirectory("gw-state-");
        try
        {
            var settings = Settings(endpoint, "gwbadendpoint", state.FullName);
            settings["Platform:SnapshotKey"] = TestGateway.SnapshotKey;

            var refused = await Assert.ThrowsAsync<OptionsValidationException>(() => BuildAndStartAsync(settings));
            Assert.Contains("SiloEndpoints", refused.Message, StringComparison.Ordinal);
        }
        finally
        {
            state.Delete(recursive: true);
        }
    }

    private static async Task BuildAndStartAsync(Dictionary<string, string?> settings)
    {
        await using var app = GatewayHost.Build([], builder =>
        {
            builder.Configuration.AddInMemoryCollection(settings);
            builder.Logging.SetMinimumLevel(LogLevel.Critical);
        });
        await app.StartAsync();
        await app.StopAsync();
    }

    private static Dictionary<string, string?> Settings(string siloEndpoint, string nodeName, string state) => new(ClusterCertificates.Cluster.Gateway.Settings())
    {
        ["Platform:SiloEndpoints:0"] = siloEndpoint,
        ["Platform:NodeName"] = nodeName,
        ["Platform:ListenAddress"] = "127.0.0.1",
        ["Platform:WsPort"] = "0",
        ["Platform:WssPort"] = "-1",
        ["Platform:TlsPort"] = "-1",
        ["Platform:DtlsPort"] = "-1",
        ["Platform:AdminPort"] = "0",
        ["Platform:StateDirectory"] = state,
    };
}
