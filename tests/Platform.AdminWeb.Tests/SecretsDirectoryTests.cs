using System.Net;
using System.Runtime.Versioning;

namespace Platform.AdminWeb.Tests;

// File modes: the platform runs on Linux.
[SupportedOSPlatform("linux")]
public sealed class SecretsDirectoryTests
{
    [Fact]
    public async Task Portal_SecretsDirectory_CallsTheSiloWithTheOperatorKeyFromItsFile()
    {
        var secrets = Directory.CreateTempSubdirectory("portal-secrets-");
        try
        {
            File.SetUnixFileMode(secrets.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var file = Path.Combine(secrets.FullName, "Platform__OperatorKey");
            await using var app = await PortalApp.StartAsync(portalSettings: new Dictionary<string, string?>
            {
                ["PLATFORM_SECRETS_DIR"] = secrets.FullName,
                // Not given as a setting: the file is the only source.
                ["Platform:OperatorKey"] = null,
            });
            // The portal itself starts with its first client, below, and reads the directory then.
            await File.WriteAllTextAsync(file, app.Silo.OperatorKey);
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);

            // Sign-in is checked by the silo's operator-only verify endpoint, the dashboard by its stats.
            var client = await app.SignedInAsync();
            var dashboard = await client.GetAsync(new Uri("/", UriKind.Relative));

            Assert.Equal(HttpStatusCode.OK, dashboard.StatusCode);
        }
        finally
        {
            secrets.Delete(recursive: true);
        }
    }
}
