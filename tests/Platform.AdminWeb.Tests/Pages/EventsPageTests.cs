using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using Platform.AdminWeb.Tests.Support;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Tenants;
using Platform.Testing;

namespace Platform.AdminWeb.Tests.Pages;

/// <summary>The tenant Events page: events a real gateway produced, with the delivery state of a failing webhook.</summary>
public sealed class EventsPageTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Events_RealConnectionAndFailingWebhook_ListsEventsNewestFirstWithTheLastFailure()
    {
        // The tenant's webhook: a real Kestrel receiver that passes the handshake and answers every event 503.
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Answer = _ => Task.FromResult<(int, string?, string?)>((503, null, null));

        await using var app = await PortalApp.StartAsync(siloSettings: new Dictionary<string, string?>
        {
            ["Platform:Egress:AllowedRanges:0"] = "127.0.0.0/8",
            ["Platform:Events:PollIntervalMilliseconds"] = "100",
            ["Platform:Events:RetryBaseMilliseconds"] = "200",
            ["Platform:Events:RetryMaxSeconds"] = "1",
        });
        using var op = app.SiloClient(app.Silo.OperatorKey);
        (await op.PostAsJsonAsync("/v1/tenants", new CreateTenantRequest("acme", "Acme", new TenantConfig
        {
            Delivery = new DeliveryConfig { Webhook = new WebhookConfig { Url = receiver.Url, Secret = "a-webhook-secret-0123456789", TimeoutSeconds = 2 } },
        }), PlatformJson.Options)).EnsureSuccessStatusCode();
        await using var gateway = await LiveGateway.StartAsync(app.Silo.ClusterGatewayEndpoint, op);

        // A real WebSocket client connects through the gateway (retrying while it takes in the tenant) and closes.
        using (var client = await ConnectAsync(gateway.WsPort))
        {
            await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
        }

        await UntilAsync(async () =>
        {
            var items = JsonDocument.Parse(await op.GetStringAsync(new Uri("/v1/tenants/acme/events", UriKind.Relative))).RootElement.GetProperty("items");
            return items.GetArrayLength() == 2 && items[0].GetProperty("delivery").GetProperty("attempts").GetInt32() >= 1;
        }, "both events recorded and the first one tried");

        var html = await (await app.SignedInAsync()).GetStringAsync(new Uri("/Tenants/acme/Events", UriKind.Relative));

        Assert.Contains("href=\"/Tenants/acme/Events\">Events</a>", html, StringComparison.Ordinal);
        var disconnected = html.IndexOf("data-sequence=\"2\"", StringComparison.Ordinal);
        var connected = html.IndexOf("data-sequence=\"1\"", StringComparison.Ordinal);
        Assert.True(disconnected > 0 && connected > disconnected, "newest first");
        Assert.Contains("<td data-label=\"Event\">disconnected</td>", html, StringComparison.Ordinal);
        Assert.Contains("<td data-label=\"Event\">connected</td>", html, StringComparison.Ordinal);
        Assert.Contains($"/Tenants/acme/Connections/{gateway.Id}.", html, StringComparison.Ordinal);
        Assert.Contains("data-state=\"pending\"", html, StringComparison.Ordinal);
        Assert.Contains("id=\"last-failure\"", html, StringComparison.Ordinal);
        Assert.Contains("http_status (HTTP 503)", html, StringComparison.Ordinal);
        Assert.Contains("Latest 2 of 2", html, StringComparison.Ordinal);

        using var signedOut = app.Browser();
        var anonymous = await signedOut.GetAsync(new Uri("/Tenants/acme/Events", UriKind.Relative));
        Assert.NotEqual(HttpStatusCode.OK, anonymous.StatusCode);
        var missing = await (await app.SignedInAsync()).GetAsync(new Uri("/Tenants/nobody/Events", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    private static async Task<ClientWebSocket> ConnectAsync(int port)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var client = new ClientWebSocket();
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await client.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/t/acme/live"), timeout.Token);
                return client;
            }
            catch (Exception e) when ((e is WebSocketException or OperationCanceledException) && DateTime.UtcNow < deadline)
            {
                client.Dispose();
                await Task.Delay(200);
            }
        }
    }

    private static async Task UntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for: {what}");
            await Task.Delay(100);
        }
    }
}
