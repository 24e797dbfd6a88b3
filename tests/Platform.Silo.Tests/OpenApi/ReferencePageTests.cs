using System.Collections.Concurrent;
using System.Net;
using Microsoft.Playwright;
using Platform.Testing;

namespace Platform.Silo.Tests.OpenApi;

/// <summary>The interactive API reference at <c>/docs</c>, loaded by Debian's headless Chromium from a real silo.</summary>
public sealed class ReferencePageTests
{
    private const string ChromiumPath = "/usr/bin/chromium";

    [Fact]
    public async Task Docs_InChromium_LoadsFromTheSiloAloneAndShowsTheEndpoints()
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: apt-get install -y chromium (infra/test.sh does).");
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, useKestrel: true);
        var baseUrl = silo.BaseAddress.ToString().TrimEnd('/');

        // Anonymous, like the document it renders.
        using var anonymous = silo.AnonymousClient();
        var html = await anonymous.GetAsync(new Uri("/docs/", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, html.StatusCode);
        Assert.Equal("text/html", html.Content.Headers.ContentType?.MediaType);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        var context = await browser.NewContextAsync();
        // Generous: CI runs every test project at once on two cores.
        context.SetDefaultTimeout(30_000);

        // Nothing may leave this machine: any request to another origin (a CDN, fonts, telemetry) is recorded and refused.
        var foreign = new ConcurrentQueue<string>();
        await context.RouteAsync("**/*", async route =>
        {
            if (route.Request.Url.StartsWith(baseUrl + "/", StringComparison.Ordinal) || route.Request.Url.StartsWith("data:", StringComparison.Ordinal)
                || route.Request.Url.StartsWith("blob:", StringComparison.Ordinal))
            {
                await route.ContinueAsync();
            }
            else
            {
                foreign.Enqueue(route.Request.Url);
                await route.AbortAsync();
            }
        });
        var page = await context.NewPageAsync();
        var failures = new ConcurrentQueue<string>();
        page.RequestFailed += (_, request) =>
        {
            if (request.Url.StartsWith(baseUrl, StringComparison.Ordinal))
            {
                failures.Enqueue($"{request.Url}: {request.Failure}");
            }
        };
        page.Response += (_, response) =>
        {
            if (response.Status >= 400)
            {
                failures.Enqueue($"{response.Url}: {response.Status}");
            }
        };

        await page.GotoAsync(baseUrl + "/docs");

        // The sidebar lists every tag and the first tag's operations; opening a tag shows its operations.
        await page.GetByText("Create a tenant").First.WaitForAsync();
        var text = await page.InnerTextAsync("body");
        Assert.Contains("Platform REST API", text, StringComparison.Ordinal);
        foreach (var tag in new[] { "Configuration", "Plans", "Host names", "Dedicated ports", "Certificates", "API keys", "PSK identities", "Connections", "Gateways", "Audit" })
        {
            Assert.Contains(tag, text, StringComparison.Ordinal);
        }

        await page.GetByText("Configuration", new PageGetByTextOptions { Exact = true }).First.ClickAsync();
        await page.GetByText("Replace a tenant's configuration").First.WaitForAsync();
        await page.GetByText("If-Match").First.WaitForAsync();

        Assert.True(foreign.IsEmpty, "The reference page asked other hosts: " + string.Join(", ", foreign));
        Assert.True(failures.IsEmpty, "Requests to the silo failed: " + string.Join(", ", failures));
    }
}
