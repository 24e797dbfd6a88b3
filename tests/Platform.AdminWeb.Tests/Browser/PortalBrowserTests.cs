using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.Playwright;
using Platform.AdminWeb.Tests.Support;
using Platform.Contracts;
using Platform.Contracts.Certificates;
using Platform.Contracts.Config;
using Platform.Contracts.Tenants;
using Platform.Testing;

namespace Platform.AdminWeb.Tests.Browser;

/// <summary>The portal driven by Debian's headless Chromium against a real silo and database (and, in one test, a real gateway).</summary>
public sealed class PortalBrowserTests
{
    private const string ChromiumPath = "/usr/bin/chromium";
    private const string WebhookSecret = "whsec-portal-0123456789abcdef";

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
        // A bound for each wait, generous because CI runs every test project at once on two cores.
        context.SetDefaultTimeout(30_000);
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
        await page.ArriveAtAsync(baseUrl + "/Tenants");
        Assert.Contains("Signed in as alice", await page.TextContentAsync(".flash-ok"), StringComparison.Ordinal);

        // Create a tenant.
        await page.FillAsync("#NewSlug", "acme");
        await page.FillAsync("#NewDisplayName", "Acme Devices");
        await page.ClickAsync("button:has-text('Create tenant')");
        await page.ArriveAtAsync(baseUrl + "/Tenants/acme");
        Assert.Contains("Tenant 'acme' created.", await page.TextContentAsync(".flash-ok"), StringComparison.Ordinal);
        await Screenshot(page, "04-tenant-configuration", fullPage: true);

        // Upload a certificate as a PEM file.
        var pemPath = Path.Combine(Path.GetTempPath(), $"portal-{Guid.NewGuid():N}.pem");
        await File.WriteAllTextAsync(pemPath, CreateCertificatePem("devices.acme-corp.test"));
        try
        {
            await page.ClickAsync("nav.tabs >> text=Certificates & keys");
            await page.ArriveAtAsync(baseUrl + "/Tenants/acme/Credentials");
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

        // The other main pages render, and the audit log names the operator. The dashboard, connections and
        // gateways are photographed by the live-gateway test, where they have something to show.
        await page.GotoAsync(baseUrl + "/");
        Assert.Contains("No connection was refused", await page.TextContentAsync("#refusals"), StringComparison.Ordinal);
        await page.GotoAsync(baseUrl + "/Tenants");
        await Screenshot(page, "03-tenants");
        await page.GotoAsync(baseUrl + "/Audit?Tenant=acme");
        Assert.Contains("operator:alice", await page.TextContentAsync("table"), StringComparison.Ordinal);
        await Screenshot(page, "09-audit-log");

        await page.SetViewportSizeAsync(390, 844);
        foreach (var path in new[] { "/", "/Tenants", "/Tenants/acme", "/Tenants/acme/Connections", "/Gateways", "/Audit", "/Operators" })
        {
            await page.GotoAsync(baseUrl + path);
            await AssertFitsWidthAsync(page, path);
        }

        await page.GotoAsync(baseUrl + "/Tenants/acme/Credentials");
        await AssertFitsWidthAsync(page, "/Tenants/acme/Credentials");
        await Screenshot(page, "10-narrow-screen");
        Assert.True(scriptErrors.Count == 0, string.Join("\n", scriptErrors));
    }

    [Fact]
    public async Task LiveGateway_ConnectionAppearsWithoutReload_DetailSendDisconnect_RefusalsOnDashboard()
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: apt-get install -y chromium (infra/test.sh does).");
        // The tenant's webhook: its first connect answer is a 500 (a failure for the Events tab), every later one accepts with
        // metadata; message batches are answered with the same text as replies, so the client gets its echo.
        await using var receiver = await WebhookReceiver.StartAsync(WebhookSecret);
        var connects = 0;
        receiver.Answer = request => Task.FromResult(request.Type switch
        {
            "connect" when Interlocked.Increment(ref connects) == 1 => (500, (string?)null, (string?)null),
            "connect" => (200, JsonSerializer.Serialize(new { metadata = new Dictionary<string, string> { ["device"] = "meter-0042", ["site"] = "Lyon 3" } }), null),
            "messages" => (200, JsonSerializer.Serialize(new
            {
                // A text message comes as "text" (a binary one as base64 "data"); the client sends text only.
                replies = request.Json.GetProperty("messages").EnumerateArray().Select(m => new
                {
                    connectionId = m.GetProperty("connectionId").GetString(),
                    text = m.GetProperty("text").GetString(),
                }),
            }), null),
            _ => (204, null, null),
        });
        await using var app = await PortalApp.StartAsync(useKestrel: true, siloSettings: new Dictionary<string, string?>
        {
            ["Platform:HeartbeatIntervalSeconds"] = "1",
            ["Platform:HeartbeatTimeoutSeconds"] = "5",
            // The webhook receiver listens on loopback.
            ["Platform:Egress:AllowedRanges:0"] = "127.0.0.0/8",
        });
        var baseUrl = app.BaseAddress.ToString().TrimEnd('/');
        using var siloOperator = app.SiloClient(app.Silo.OperatorKey);
        (await siloOperator.PostAsJsonAsync("/v1/tenants", new CreateTenantRequest("acme", "Acme Devices",
            new TenantConfig
            {
                Access = new AccessConfig { BlockedClients = "127.0.0.3" },
                Delivery = new DeliveryConfig
                {
                    Mode = DeliveryModes.Webhook,
                    Webhook = new WebhookConfig { Url = receiver.Url, Secret = WebhookSecret, TimeoutSeconds = 5, BatchDelayMilliseconds = 0 },
                },
            }), PlatformJson.Options)).EnsureSuccessStatusCode();
        var pem = CreateCertificatePem("acme.platform.test");
        string thumbprint;
        using (var certificate = X509Certificate2.CreateFromPem(pem))
        {
            thumbprint = certificate.GetCertHashString(HashAlgorithmName.SHA256);
        }

        (await siloOperator.PostAsJsonAsync("/v1/tenants/acme/certificates", new UploadCertificateRequest(Pem: pem), PlatformJson.Options)).EnsureSuccessStatusCode();
        await using var gateway = await LiveGateway.StartAsync(app.Silo.ClusterGatewayEndpoint, siloOperator);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var context = await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        // A bound for each wait, generous because CI runs every test project at once on two cores.
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
        // Disconnecting asks for confirmation; the operator says yes.
        page.Dialog += (_, dialog) => _ = dialog.AcceptAsync();

        await page.GotoAsync(baseUrl + "/Tenants/acme/Connections");
        await page.FillAsync("#UserName", PortalApp.OperatorName);
        await page.FillAsync("#Password", PortalApp.OperatorPassword);
        await page.ClickAsync("button:has-text('Sign in')");
        await page.ArriveAtAsync(baseUrl + "/Tenants/acme/Connections");
        Assert.Equal(0, await page.Locator("#live-connections tbody tr[data-id]").CountAsync());
        // Set on this document only: a reload would lose it.
        await page.EvaluateAsync("() => { window.__sameDocument = true; }");

        // A real wss client reaches the gateway; it retries while the gateway is still taking in the tenant and its certificate.
        using var client = await ConnectWssAsync(gateway.WssPort, "acme.platform.test", "/t/acme/live", thumbprint);
        var received = System.Threading.Channels.Channel.CreateUnbounded<string>();
        var reader = ReadUntilClosedAsync(client, received.Writer);
        await client.SendAsync(Encoding.UTF8.GetBytes("hello, echo"), WebSocketMessageType.Text, true, CancellationToken.None);
        using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
        {
            Assert.Equal("hello, echo", await received.Reader.ReadAsync(wait.Token));
        }

        var row = page.Locator("#live-connections tbody tr[data-id]");
        await row.First.WaitForAsync();
        Assert.True(await page.EvaluateAsync<bool>("() => window.__sameDocument === true"), "The connection list was reloaded instead of refreshed in place.");
        var connectionId = await row.First.GetAttributeAsync("data-id");
        Assert.StartsWith(gateway.Id + ".", connectionId, StringComparison.Ordinal);
        Assert.Equal("wss", await row.First.Locator("td[data-label='Protocol']").TextContentAsync());
        await Screenshot(page, "07-connections");

        // Its detail shows the TLS and WebSocket facts the gateway recorded.
        await row.First.Locator("a").ClickAsync();
        await page.ArriveAtAsync($"{baseUrl}/Tenants/acme/Connections/{connectionId}");
        var facts = await page.TextContentAsync("main");
        Assert.Contains("acme.platform.test", facts, StringComparison.Ordinal);
        Assert.Contains("TLSv1.", facts, StringComparison.Ordinal);
        Assert.Contains("/t/acme/live", facts, StringComparison.Ordinal);
        // The metadata the webhook's connect answer attached.
        var metadata = await page.TextContentAsync("#connection-metadata");
        Assert.Contains("meter-0042", metadata, StringComparison.Ordinal);
        Assert.Contains("Lyon 3", metadata, StringComparison.Ordinal);
        await Screenshot(page, "11-connection-detail", fullPage: true);

        // A test message sent from the portal reaches the client.
        await page.FillAsync("#text", "hello from the portal");
        await page.ClickAsync("#send-message button[type=submit]");
        await page.WaitForSelectorAsync(".flash-ok");
        Assert.Contains("queued", await page.TextContentAsync(".flash-ok"), StringComparison.Ordinal);
        using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
        {
            Assert.Equal("hello from the portal", await received.Reader.ReadAsync(wait.Token));
        }

        // Disconnecting closes the client with the chosen code and reason.
        await page.FillAsync("#code", "4000");
        await page.FillAsync("#reason", "closed from the portal");
        await page.ClickAsync("#disconnect button[type=submit]");
        await page.ArriveAtAsync(baseUrl + "/Tenants/acme/Connections");
        Assert.Contains($"Connection {connectionId} disconnected.", await page.TextContentAsync(".flash-ok"), StringComparison.Ordinal);
        await reader.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal((WebSocketCloseStatus)4000, client.CloseStatus);
        Assert.Equal("closed from the portal", client.CloseStatusDescription);
        // The list drops it on a later refresh, again without a reload.
        await page.EvaluateAsync("() => { window.__sameDocument = true; }");
        await page.Locator($"#live-connections tbody tr[data-id='{connectionId}']").WaitForAsync(new() { State = WaitForSelectorState.Detached });
        Assert.True(await page.EvaluateAsync<bool>("() => window.__sameDocument === true"));

        // A client the tenant blocks is refused; the refusal reaches the dashboard with the next heartbeat.
        Assert.Equal(403, await RawUpgradeStatusAsync(gateway.WsPort, "acme.platform.test", IPAddress.Parse("127.0.0.3")));
        using (var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
        {
            while (true)
            {
                await page.GotoAsync(baseUrl + "/");
                var refusals = await page.TextContentAsync("#refusals") ?? "";
                if (refusals.Contains("blocked", StringComparison.Ordinal) && refusals.Contains("client in BlockedClients", StringComparison.Ordinal))
                {
                    break;
                }

                await Task.Delay(250, limit.Token);
            }
        }

        var latest = await page.TextContentAsync("#refusals-latest");
        Assert.Contains("acme", latest, StringComparison.Ordinal);
        Assert.Equal("1", await page.TextContentAsync(".tile.status-up .n"));
        await Screenshot(page, "02-dashboard", fullPage: true);
        await page.GotoAsync(baseUrl + "/Gateways");
        Assert.Contains(gateway.Id, await page.TextContentAsync("table"), StringComparison.Ordinal);
        // The control plane's own silo, from the cluster's membership table.
        Assert.Contains("active", await page.TextContentAsync("#silos table"), StringComparison.Ordinal);
        await Screenshot(page, "08-gateways");

        // The Events tab's webhook status: the refused first connect and the requests delivered since, as reported.
        using (var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            while (true)
            {
                await page.GotoAsync(baseUrl + "/Tenants/acme/Events");
                if (await page.Locator("#webhook-failures tr[data-kind='http_status'][data-event='connect']").CountAsync() == 1
                    && await page.Locator("#webhook-last-failure").CountAsync() == 1
                    && (await page.TextContentAsync("#webhook-delivered"))!.Trim() != "0 delivered")
                {
                    break;
                }

                await Task.Delay(500, limit.Token);
            }
        }

        Assert.Equal("validated", await page.GetAttributeAsync("#webhook-validation", "data-state"));
        Assert.Contains("http_status (HTTP 500)", await page.TextContentAsync("#webhook-last-failure"), StringComparison.Ordinal);
        await Screenshot(page, "12-events-webhook-status", fullPage: true);

        await page.SetViewportSizeAsync(390, 844);
        await page.GotoAsync(baseUrl + "/");
        await AssertFitsWidthAsync(page, "/ (with refusals)");
        Assert.True(scriptErrors.Count == 0, string.Join("\n", scriptErrors));
    }

    private static Task<IBrowser> LaunchAsync(IPlaywright playwright) =>
        playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"],
        });

    /// <summary>A page works on a narrow screen when nothing but a table's own scroller is wider than the viewport.</summary>
    private static async Task AssertFitsWidthAsync(IPage page, string what)
    {
        var overflow = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - document.documentElement.clientWidth");
        Assert.True(overflow <= 0, $"{what} is {overflow}px wider than a 390px screen.");
    }

    /// <summary>wss to the loopback gateway with the tenant's host name as SNI (the name need not resolve), trusting only the tenant's certificate.</summary>
    private static async Task<ClientWebSocket> ConnectWssAsync(int port, string hostName, string path, string thumbprint)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (true)
        {
            var handler = new SocketsHttpHandler
            {
                ConnectCallback = async (_, ct) =>
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    try
                    {
                        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), ct);
                        return new NetworkStream(socket, ownsSocket: true);
                    }
                    catch
                    {
                        socket.Dispose();
                        throw;
                    }
                },
                // Self-signed: pinned by fingerprint, which also proves SNI chose the tenant's certificate.
                SslOptions =
                {
                    RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                        certificate is not null && string.Equals(certificate.GetCertHashString(HashAlgorithmName.SHA256), thumbprint, StringComparison.OrdinalIgnoreCase),
                },
            };
            using var invoker = new HttpMessageInvoker(handler);
            var client = new ClientWebSocket();
            try
            {
                await client.ConnectAsync(new Uri($"wss://{hostName}:{port}{path}"), invoker, limit.Token);
                return client;
            }
            catch (WebSocketException) when (!limit.IsCancellationRequested)
            {
                client.Dispose();
                await Task.Delay(100, limit.Token);
            }
        }
    }

    private static async Task ReadUntilClosedAsync(ClientWebSocket client, System.Threading.Channels.ChannelWriter<string> received)
    {
        var buffer = new byte[4096];
        while (true)
        {
            var result = await client.ReceiveAsync(buffer, CancellationToken.None);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                // Answer the close as every real client does, completing the handshake.
                await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                received.Complete();
                return;
            }

            var text = new StringBuilder(Encoding.UTF8.GetString(buffer, 0, result.Count));
            while (!result.EndOfMessage)
            {
                result = await client.ReceiveAsync(buffer, CancellationToken.None);
                text.Append(Encoding.UTF8.GetString(buffer, 0, result.Count));
            }

            await received.WriteAsync(text.ToString());
        }
    }

    /// <summary>A hand-written upgrade request from a chosen loopback source address; returns the HTTP status.</summary>
    private static async Task<int> RawUpgradeStatusAsync(int port, string host, IPAddress source)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(source, 0));
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), limit.Token);
        var request = $"GET /live HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(request), SocketFlags.None, limit.Token);
        var head = new StringBuilder();
        var buffer = new byte[1024];
        while (!head.ToString().Contains("\r\n", StringComparison.Ordinal))
        {
            var read = await socket.ReceiveAsync(buffer, SocketFlags.None, limit.Token);
            Assert.True(read > 0, "The gateway closed without answering.");
            head.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        return int.Parse(head.ToString().Split(' ')[1], CultureInfo.InvariantCulture);
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
