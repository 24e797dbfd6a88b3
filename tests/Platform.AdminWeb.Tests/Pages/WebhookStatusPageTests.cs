using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Platform.AdminWeb.Tests.Support;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Tenants;
using Platform.Testing;

namespace Platform.AdminWeb.Tests.Pages;

/// <summary>
/// The tenant Events page shows how the gateways' webhook requests went: a real gateway sends connect events to a real
/// Kestrel receiver that answers 502, and the page shows the failures per kind and the last one.
/// </summary>
public sealed class WebhookStatusPageTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Events_GatewayWebhookAnswers502_PageShowsFailuresPerKindAndLastFailure()
    {
        var receiverPort = FreePorts.Tcp();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, receiverPort));
        await using var receiver = builder.Build();
        receiver.Run(context =>
        {
            if (HttpMethods.IsOptions(context.Request.Method))
            {
                context.Response.Headers["WebHook-Allowed-Origin"] = "*";
                return Task.CompletedTask;
            }

            context.Response.StatusCode = 502;
            return Task.CompletedTask;
        });
        await receiver.StartAsync();

        await using var app = await PortalApp.StartAsync(siloSettings: new Dictionary<string, string?>
        {
            ["Platform:Egress:AllowedRanges:0"] = "127.0.0.0/8",
        });
        using var op = app.SiloClient(app.Silo.OperatorKey);
        (await op.PostAsJsonAsync("/v1/tenants", new CreateTenantRequest("acme", "Acme", new TenantConfig
        {
            Delivery = new DeliveryConfig
            {
                Mode = DeliveryModes.Webhook,
                Webhook = new WebhookConfig { Url = $"http://127.0.0.1:{receiverPort}/hook", Secret = "a-webhook-secret-0123456789", TimeoutSeconds = 2 },
            },
        }), PlatformJson.Options)).EnsureSuccessStatusCode();
        (await op.PostAsJsonAsync("/v1/tenants", new CreateTenantRequest("calm", "Calm", null), PlatformJson.Options)).EnsureSuccessStatusCode();
        await using var gateway = await LiveGateway.StartAsync(app.Silo.ClusterGatewayEndpoint, op);

        // Connect attempts are refused (the webhook gives no usable answer) until the gateway has the tenant and counts one.
        await UntilAsync(async () =>
        {
            await TryConnectAsync(gateway.WsPort);
            var status = JsonDocument.Parse(await op.GetStringAsync(new Uri("/v1/tenants/acme/webhook-status", UriKind.Relative))).RootElement;
            return status.GetProperty("failed").GetInt64() >= 1;
        }, "a failed connect request reported");

        var html = await (await app.SignedInAsync()).GetStringAsync(new Uri("/Tenants/acme/Events", UriKind.Relative));

        Assert.Contains("id=\"webhook-status\"", html, StringComparison.Ordinal);
        Assert.Contains("data-kind=\"http_status\" data-event=\"connect\"", html, StringComparison.Ordinal);
        Assert.Contains("id=\"webhook-last-failure\"", html, StringComparison.Ordinal);
        Assert.Contains("http_status (HTTP 502)", html, StringComparison.Ordinal);
        Assert.Contains("data-state=\"validated\"", html, StringComparison.Ordinal);

        // Another tenant's page shows none of it.
        var calm = await (await app.SignedInAsync()).GetStringAsync(new Uri("/Tenants/calm/Events", UriKind.Relative));
        Assert.DoesNotContain("data-kind=", calm, StringComparison.Ordinal);
        Assert.Contains("id=\"webhook-failures-empty\"", calm, StringComparison.Ordinal);
        Assert.Contains("data-state=\"no_webhook\"", calm, StringComparison.Ordinal);
    }

    private static async Task TryConnectAsync(int port)
    {
        using var client = new ClientWebSocket();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await client.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/t/acme/live"), timeout.Token);
            Assert.Fail("The webhook answers 502: the connection must be refused.");
        }
        catch (WebSocketException)
        {
            // Refused: 503 (no usable answer) or, before the gateway has the tenant, 404.
        }
    }

    private static async Task UntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting for: {what}");
            await Task.Delay(500);
        }
    }
}
