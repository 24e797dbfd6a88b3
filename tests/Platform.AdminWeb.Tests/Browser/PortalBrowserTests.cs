using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Playwright;
using Platform.Contracts;
using Platform.Contracts.Tenants;

namespace Platform.AdminWeb.Tests.Browser;

/// <summary>The portal driven by Debian's headless Chromium against a real silo and database.</summary>
public sealed class PortalBrowserTests
{
    private const string ChromiumPath = "/usr/bin/chromium";

    [Fact]
    public async Task Portal_SignInCreateTenantUploadCertificateEditAccessLists_Works()
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: apt-get install -y chromium (infra/test.sh does).");
        await using var app = await PortalApp.StartAsync(useKestrel: true);
        var baseUrl = app.BaseAddress.ToString().TrimEnd('/');
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        var context = await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        context.SetDefaultTimeout(15_000);
        var page = await context.NewPageAsync();
        var scriptErrors = new List<string>();
        page.Console += (_, message) =>
        {
            // A configuration save with field errors answers 400 on purpose; the browser logs that status.
            if (message.Type == "error" && !(message.Location.Contains("handler=Save", StringComparison.Ordinal) && message.Text.Contains("status of 400", StringComparison.Ordinal)))
            {
                scriptErrors.Add($"{message.Location}: {message.Text}");
            }
        };

        // A protected page sends the browser to sign-in and back.
        await page.GotoAsync(baseUrl + "/Tenants");
        Assert.Contains("/SignIn?ReturnUrl=%2FTenants", page.Url, StringComparison.Ordinal);
        await Screenshot(page, "01-sign-in");
        await page.FillAsync("#UserName", PortalApp.OperatorName);
        await page.FillAsync("#Password", PortalApp.OperatorPassword);
        await page.ClickAsync("button:has-text('Sign in')");
        await page.WaitForURLAsync(baseUrl + "/Tenants");
        Assert.Contains("Signed in as alice", await page.TextContentAsync(".flash-ok"), StringComparison.Ordinal);

        // Create a tenant.
        await page.FillAsync("#NewSlug", "acme");
        await page.FillAsync("#NewDisplayName", "Acme Devices");
        await page.ClickAsync("button:has-text('Create tenant')");
        await page.WaitForURLAsync(baseUrl + "/Tenants/acme");
        Assert.Contains("Tenant 'acme' created.", await page.TextContentAsync(".flash-ok"), StringComparison.Ordinal);
        await Screenshot(page, "04-tenant-configuration", fullPage: true);

        // Upload a certificate as a PEM file.
        var pemPath = Path.Combine(Path.GetTempPath(), $"portal-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(pemPath, CreateCertificatePem("devices.acme-corp.test"));
        try
        {
            await page.ClickAsync("nav.tabs >> text=Certificates & keys");
            await page.WaitForURLAsync(baseUrl + "/Tenants/acme/Credentials");
            await page.SetInputFilesAsync("#file", pemPath);
            await page.ClickAsync("button:has-text('Upload certificate')");
            await page.WaitForSelectorAsync(".flash-ok");
            Assert.Contains("devices.acme-corp.test uploaded", await page.TextContentAsync(".flash-ok"), StringComparison.Ordinal);
            Assert.Contains("devices.acme-corp.test", await page.TextContentAsync("#certificates table"), StringComparison.Ordinal);
            Assert.DoesNotContain("PRIVATE KEY", await page.ContentAsync(), StringComparison.Ordinal);
            await Screenshot(page, "05-certificates-and-keys", fullPage: true);
        }
        finally
        {
            File.Delete(pemPath);
        }

        // Access lists: a bad entry is refused next to its field, a good list is saved.
        await page.GotoAsync(baseUrl + "/Tenants/acme");
        await page.FillAsync("#cfg-access-allowedClients", "10.0.0.0/8\nnot a host!");
        await page.ClickAsync("#save-config");
        var error = page.Locator("[data-field='access.allowedClients'] .field-error");
        await error.WaitForAsync();
        Assert.Contains("not a host!", await error.TextContentAsync(), StringComparison.Ordinal);
        Assert.Equal("10.0.0.0/8\nnot a host!", await page.InputValueAsync("#cfg-access-allowedClients"));
        await page.Locator("[data-field='access.allowedClients']").ScrollIntoViewIfNeededAsync();
        await Screenshot(page, "06-validation-error");

        await page.FillAsync("#cfg-access-allowedClients", "10.0.0.0/8\n192.168.*.*");
        await page.FillAsync("#cfg-access-blockedClients", "10.6.6.6");
        await page.ClickAsync("#save-config");
        await page.WaitForSelectorAsync(".flash-ok");
        Assert.Contains("Configuration saved as revision", await page.TextContentAsync(".flash-ok"), StringComparison.Ordinal);
        using (var silo = app.SiloClient(app.Silo.OperatorKey))
        {
            var config = await silo.GetFromJsonAsync<ConfigResponse>("/v1/tenants/acme/config", PlatformJson.Options);
            Assert.Equal("10.0.0.0/8, 192.168.*.*", config!.Config.Access.AllowedClients);
            Assert.Equal("10.6.6.6", config.Config.Access.BlockedClients);
        }

        // The other main pages render, and the audit log names the operator.
        await page.GotoAsync(baseUrl + "/");
        await Screenshot(page, "02-dashboard", fullPage: true);
        await page.GotoAsync(baseUrl + "/Tenants");
        await Screenshot(page, "03-tenants");
        await page.GotoAsync(baseUrl + "/Tenants/acme/Connections");
        await Screenshot(page, "07-connections");
        await page.GotoAsync(baseUrl + "/Gateways");
        await Screenshot(page, "08-gateways");
        await page.GotoAsync(baseUrl + "/Audit?Tenant=acme");
        Assert.Contains("operator:alice", await page.TextContentAsync("table"), StringComparison.Ordinal);
        await Screenshot(page, "09-audit-log");

        await page.SetViewportSizeAsync(390, 844);
        await page.GotoAsync(baseUrl + "/Tenants/acme/Credentials");
        await Screenshot(page, "10-narrow-screen");
        Assert.True(scriptErrors.Count == 0, string.Join("\n", scriptErrors));
    }

    private static string CreateCertificatePem(string hostName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={hostName}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(hostName);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(20));
        return certificate.ExportCertificatePem() + "\n" + key.ExportPkcs8PrivateKeyPem() + "\n";
    }

    private static async Task Screenshot(IPage page, string name, bool fullPage = false)
    {
        var directory = Path.Combine(RepositoryRoot(), "docs", "screenshots");
        Directory.CreateDirectory(directory);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(directory, name + ".png"), FullPage = fullPage, Animations = ScreenshotAnimations.Disabled });
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

        throw new InvalidOperationException("Platform.sln not found above the test output.");
    }
}
