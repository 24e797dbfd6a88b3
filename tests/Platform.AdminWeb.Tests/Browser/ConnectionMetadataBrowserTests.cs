using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using Platform.AdminWeb.Tests.Support;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Tenants;
using Platform.Testing;

namespace Platform.AdminWeb.Tests.Browser;

/// <summary>
/// The connection list and detail show what the tenant's webhook decided: a real gateway asks a real Kestrel webhook,
/// whose answer attaches metadata and chooses a forward target; Debian's headless Chromium reads the portal.
/// </summary>
public sealed class ConnectionMetadataBrowserTests
{
    private const string ChromiumPath = "/usr/bin/chromium";

    [Fact]
    public async Task Connections_WebhookAttachedMetadataAndForward_ListAndDetailShowThem()
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: apt-get install -y chromium (infra/test.sh does).");
        using var backend = new TcpListener(IPAddress.Loopback, 0);
        backend.Start();
        var backendPort = ((IPEndPoint)backend.LocalEndpoint).Port;
        var held = new List<TcpClient>();
        var accepting = AcceptAsync(backend, held);
        await using var webhook = await StartWebhookAsync(backendPort);

        // The webhook and the backend are on loopback, which the default egress policy refuses.
        await using var app = await PortalApp.StartAsync(useKestrel: true, siloSettings: new Dictionary<string, string?>
        {
            ["Platform:Egress:AllowedRanges:0"] = "127.0.0.0/8",
        });
        var baseUrl = app.BaseAddress.ToString().TrimEnd('/');
        using var siloOperator = app.SiloClient(app.Silo.OperatorKey);
        var config = new TenantConfig
        {
            Delivery = new DeliveryConfig
            {
                Mode = DeliveryModes.Webhook,
                Webhook = new WebhookConfig { Url = webhook.Urls.Single() + "/hook", Secret = "whsec-portal-0123456789abcdef", TimeoutSeconds = 10 },
            },
        };
        (await siloOperator.PostAsJsonAsync("/v1/tenants", new CreateTenantRequest("acme", "Acme Devices", config), PlatformJson.Options)).EnsureSuccessStatusCode();
        await using var gateway = await LiveGateway.StartAsync(app.Silo.ClusterGatewayEndpoint, siloOperator);

        // A plain ws client; it retries while the gateway is still taking in the tenant.
        using var client = await ConnectAsync(new Uri($"ws://127.0.0.1:{gateway.WsPort}/t/acme/"));

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        var context = await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        context.SetDefaultTimeout(30_000);
        var page = await context.NewPageAsync();
        var scriptErrors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                scriptErrors.Add($"{message.Location}: {message.Text}");
            }
        };

        await page.GotoAsync(baseUrl + "/Tenants/acme/Connections");
        await page.FillAsync("#UserName", PortalApp.OperatorName);
        await page.FillAsync("#Password", PortalApp.OperatorPassword);
        await page.ClickAsync("button:has-text('Sign in')");
        await page.ArriveAtAsync(baseUrl + "/Tenants/acme/Connections");

        // The live table refreshes in place until the connection is listed, with its metadata in its own cell.
        var row = page.Locator("#live-connections tbody tr[data-id]");
        await row.First.WaitForAsync();
        Assert.Equal("Region=eu-1, user=<u-42>", await row.First.Locator("td[data-label='Metadata']").TextContentAsync());
        var connectionId = await row.First.GetAttributeAsync("data-id");

        // The detail lists every entry (text, not markup) and the target the webhook chose.
        await row.First.Locator("a").ClickAsync();
        await page.ArriveAtAsync($"{baseUrl}/Tenants/acme/Connections/{connectionId}");
        Assert.Equal($"127.0.0.1:{backendPort}", await page.TextContentAsync("#forward-target"));
        Assert.Equal(["Region", "user"], await page.Locator("#connection-metadata dt").AllTextContentsAsync());
        Assert.Equal(["eu-1", "<u-42>"], await page.Locator("#connection-metadata dd").AllTextContentsAsync());
        Assert.True(scriptErrors.Count == 0, string.Join("\n", scriptErrors));

        client.Abort();
        backend.Stop();
        await accepting;
        foreach (var socket in held)
        {
            socket.Dispose();
        }
    }

    /// <summary>
    /// The tenant's webhook: passes the validation handshake and accepts every connection with metadata (one value that
    /// would be markup if the portal did not encode it) and a forward target.
    /// </summary>
    private static async Task<WebApplication> StartWebhookAsync(int backendPort)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{FreePorts.Tcp()}");
        var app = builder.Build();
        app.Run(async context =>
        {
            if (HttpMethods.IsOptions(context.Request.Method))
            {
                context.Response.Headers["WebHook-Allowed-Origin"] = context.Request.Headers["WebHook-Request-Origin"].ToString();
                return;
            }

            if (context.Request.Headers["Platform-Event-Type"] != "connect")
            {
                context.Response.StatusCode = 204;
                return;
            }

            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(JsonSerializer.Serialize(new
            {
                accept = true,
                forward = new { host = "127.0.0.1", port = backendPort },
                metadata = new Dictionary<string, string> { ["user"] = "<u-42>", ["Region"] = "eu-1" },
            }));
        });
        await app.StartAsync();
        return app;
    }

    private static async Task AcceptAsync(TcpListener listener, List<TcpClient> held)
    {
        try
        {
            while (true)
            {
                held.Add(await listener.AcceptTcpClientAsync());
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Stopped at the end of the test.
        }
    }

    private static async Task<ClientWebSocket> ConnectAsync(Uri uri)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var client = new ClientWebSocket();
            try
            {
                await client.ConnectAsync(uri, limit.Token);
                return client;
            }
            catch (WebSocketException) when (!limit.IsCancellationRequested)
            {
                client.Dispose();
                await Task.Delay(200, limit.Token);
            }
        }
    }
}
