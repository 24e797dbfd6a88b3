using System.Net.Http.Json;
using System.Runtime.Versioning;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Platform.Contracts;
using Platform.Contracts.Gateways;
using Platform.Contracts.Tenants;
using Platform.Gateway.Hosting;
using Platform.Gateway.Silo;
using Platform.Gateway.Tests.Support;

namespace Platform.Gateway.Tests.Hosting;

// File modes: the platform runs on Linux.
[SupportedOSPlatform("linux")]
public sealed class GatewayHostTests
{
    [Fact]
    public async Task Build_SecretsDirectory_ClusterSecretFromItsFileRegistersWithTheSilo()
    {
        await using var silo = await SiloFixture.StartAsync();
        var secrets = Directory.CreateTempSubdirectory("gw-secrets-");
        var state = Directory.CreateTempSubdirectory("gw-state-");
        try
        {
            File.SetUnixFileMode(secrets.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var file = Path.Combine(secrets.FullName, "Platform__ClusterSecret");
            await File.WriteAllTextAsync(file, silo.ClusterSecret);
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            var nodeName = "gwsecrets" + Guid.NewGuid().ToString("N")[..6];

            // Everything but the secret comes from ordinary settings; the cluster secret only from the file.
            await using var app = GatewayHost.Build([$"--PLATFORM_SECRETS_DIR={secrets.FullName}"], builder =>
            {
                builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
                {
                    ["Platform:SiloUrl"] = silo.Url.ToString(),
                    ["Platform:NodeName"] = nodeName,
                    ["Platform:ListenAddress"] = "127.0.0.1",
                    ["Platform:WsPort"] = "0",
                    ["Platform:WssPort"] = "-1",
                    ["Platform:TlsPort"] = "-1",
                    ["Platform:DtlsPort"] = "-1",
                    ["Platform:InternalPort"] = "0",
                    ["Platform:StateDirectory"] = state.FullName,
                });
                builder.Logging.SetMinimumLevel(LogLevel.Warning);
            });
            await app.StartAsync();
            var registration = app.Services.GetRequiredService<GatewayRegistration>();
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            while (!registration.Registered)
            {
                await Task.Delay(20, limit.Token);
            }

            var listed = await silo.Operator.GetFromJsonAsync<Page<GatewayResponse>>(new Uri("/v1/gateways", UriKind.Relative), PlatformJson.Options);

            Assert.Contains(listed!.Items, g => g.Id.StartsWith(nodeName, StringComparison.Ordinal));
            await app.StopAsync();
        }
        finally
        {
            secrets.Delete(recursive: true);
            state.Delete(recursive: true);
        }
    }
}
