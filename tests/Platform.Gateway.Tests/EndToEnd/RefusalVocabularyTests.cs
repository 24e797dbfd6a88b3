using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Gateways;
using Platform.Contracts.Stats;
using Platform.Gateway.Tests.Support;
using Platform.Testing;

namespace Platform.Gateway.Tests.EndToEnd;

/// <summary>
/// A refused ws client and the tenant's refusal counts say the same word: each refusal's problem document carries the
/// reason the gateway counts (and the silo reports) as its <c>code</c>, and the one problem <c>type</c> scheme of the
/// platform. Real gateway, real silo over PostgreSQL, hand-written upgrade requests on real sockets.
/// </summary>
public sealed class RefusalVocabularyTests
{
    private const string TypePrefix = "https://errors.platform.dev/";
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task WsRefusals_EachAnswerNamesTheReasonCountedAndReportedForIt()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig { Access = new AccessConfig { AllowedClients = "127.0.0.1, 127.0.0.2", BlockedClients = "127.0.0.2" } });
        await silo.CreateTenantAsync("orig", new TenantConfig { WebSocket = new WebSocketConfig { AllowedOrigins = ["https://app.example.com"] } });
        await silo.CreateTenantAsync("wssonly", new TenantConfig { Listeners = [ListenerProtocols.Wss] });
        await silo.CreateTenantAsync("cap", new TenantConfig { Limits = new LimitsConfig { MaxConnectionsPerClient = 1 } });
        await silo.CreateTenantAsync("full", new TenantConfig { Limits = new LimitsConfig { MaxConnections = 1 } });
        await silo.CreateTenantAsync("rate", new TenantConfig { Limits = new LimitsConfig { ConnectionsPerSecond = 1 } });
        await silo.CreateTenantAsync("hook", new TenantConfig
        {
            Delivery = new DeliveryConfig { Mode = DeliveryModes.Webhook, Webhook = new WebhookConfig { Url = "https://hooks.example/ws" } },
        });
        await silo.CreateTenantAsync("down", new TenantConfig
        {
            Delivery = new DeliveryConfig
            {
                Mode = DeliveryModes.Forward,
                Forward = new ForwardConfig { Host = "127.0.0.1", Port = FreePorts.Tcp(), ConnectTimeoutSeconds = 2 },
            },
        });
        await silo.CreateTenantAsync("off");
        using (var suspend = await silo.Operator.PostAsync(new Uri("/v1/tenants/off/suspend", UriKind.Relative), null))
        {
            Assert.True(suspend.IsSuccessStatusCode, await suspend.Content.ReadAsStringAsync());
        }

        await using var gateway = await silo.StartGatewayAsync();
        using var refusals = new RefusalRecorder(gateway);
        foreach (var slug in new[] { "acme", "orig", "wssonly", "cap", "full", "rate", "hook", "down", "off" })
        {
            await gateway.WaitForTenantAsync(slug);
        }

        await gateway.WaitForSnapshotAsync(s => s.BySlug["off"].Suspended);
        await gateway.WaitRegisteredAsync();
        var ws = gateway.WsEndPoint;

        await AssertRefusedAsync(refusals, "", "unknown_tenant", 404, await RawHttp.UpgradeAsync(ws, "nobody.platform.test", "/"));
        await AssertRefusedAsync(refusals, "acme", "blocked", 403, await RawHttp.UpgradeAsync(ws, "acme.platform.test", "/", IPAddress.Parse("127.0.0.2")));
        await AssertRefusedAsync(refusals, "acme", "not_allowed", 403, await RawHttp.UpgradeAsync(ws, "acme.platform.test", "/", IPAddress.Parse("127.0.0.9")));
        await AssertRefusedAsync(refusals, "acme", "bad_request", 400, await RawHttp.UpgradeAsync(ws, "acme.platform.test", "/", key: ""));
        await AssertRefusedAsync(refusals, "acme", "bad_request", 426, await RawHttp.SendAsync(ws,
            "GET / HTTP/1.1\r\nHost: acme.platform.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            $"Sec-WebSocket-Key: {RawHttp.ValidKey}\r\nSec-WebSocket-Version: 8\r\n\r\n"), counted: 2);
        await AssertRefusedAsync(refusals, "orig", "origin_not_allowed", 403,
            await RawHttp.UpgradeAsync(ws, "orig.platform.test", "/", extraHeaders: "Origin: https://evil.example.com\r\n"));
        await AssertRefusedAsync(refusals, "wssonly", "protocol_not_allowed", 403, await RawHttp.UpgradeAsync(ws, "wssonly.platform.test", "/"));
        await AssertRefusedAsync(refusals, "off", "suspended", 403, await RawHttp.UpgradeAsync(ws, "off.platform.test", "/"));
        await AssertRefusedAsync(refusals, "hook", "delivery_unavailable", 503, await RawHttp.UpgradeAsync(ws, "hook.platform.test", "/"));
        await AssertRefusedAsync(refusals, "down", "backend_unreachable", 502, await RawHttp.UpgradeAsync(ws, "down.platform.test", "/"));

        using (var held = await WsClient.ConnectAsync(gateway.WsUri("cap")))
        {
            await AssertRefusedAsync(refusals, "cap", "per_client_limit", 429, await RawHttp.UpgradeAsync(ws, "cap.platform.test", "/"));
        }

        using (var held = await WsClient.ConnectAsync(gateway.WsUri("full")))
        {
            await AssertRefusedAsync(refusals, "full", "max_connections", 503, await RawHttp.UpgradeAsync(ws, "full.platform.test", "/"));
        }

        // One new connection per second: upgrading back to back meets the limit within a few attempts.
        (int Status, string Head, string Body) limited = default;
        for (var attempt = 0; attempt < 20 && limited.Status != 429; attempt++)
        {
            limited = await RawHttp.UpgradeAsync(ws, "rate.platform.test", "/");
        }

        await AssertRefusedAsync(refusals, "rate", "rate_limited", 429, limited);

        using (var drain = await silo.Operator.PostAsJsonAsync(
            new Uri($"/v1/gateways/{gateway.NodeId}/drain", UriKind.Relative), new DrainGatewayRequest(0), PlatformJson.Options))
        {
            Assert.Equal(HttpStatusCode.Accepted, drain.StatusCode);
        }

        await AssertRefusedAsync(refusals, "acme", "draining", 503, await RawHttp.UpgradeAsync(ws, "acme.platform.test", "/"));

        // The tenant's (and the operator's) report names every one of those words.
        string[] answered =
        [
            "unknown_tenant", "blocked", "not_allowed", "bad_request", "origin_not_allowed", "protocol_not_allowed", "suspended",
            "delivery_unavailable", "backend_unreachable", "per_client_limit", "max_connections", "rate_limited", "draining",
        ];
        var deadline = DateTime.UtcNow + WaitLimit;
        while (true)
        {
            var report = (await silo.Operator.GetFromJsonAsync<RefusalReport>(new Uri("/v1/refusals", UriKind.Relative), PlatformJson.Options))!;
            var missing = answered.Except(report.ByReason.Select(r => r.Reason)).ToList();
            if (missing.Count == 0)
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, "Not in /v1/refusals: " + string.Join(", ", missing));
            await Task.Delay(100);
        }

        var hook = (await silo.Operator.GetFromJsonAsync<RefusalReport>(new Uri("/v1/tenants/hook/refusals", UriKind.Relative), PlatformJson.Options))!;
        Assert.Equal([("delivery_unavailable", 1L)], hook.ByReason.Select(r => (r.Reason, r.Count)));
    }

    [Fact]
    public async Task SiloProblem_TypeFollowsTheSameScheme()
    {
        await using var silo = await SiloFixture.StartAsync();

        using var response = await silo.Operator.GetAsync(new Uri("/v1/tenants/nobody", UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("not_found", problem.RootElement.GetProperty("code").GetString());
        Assert.Equal(TypePrefix + "not_found", problem.RootElement.GetProperty("type").GetString());
    }

    private static async Task AssertRefusedAsync(
        RefusalRecorder refusals, string tenant, string reason, int status, (int Status, string Head, string Body) answer, long counted = 1)
    {
        Assert.True(answer.Status == status, $"{reason}: expected {status}, got {answer.Status} {answer.Body}");
        Assert.Contains("Content-Type: application/problem+json", answer.Head, StringComparison.OrdinalIgnoreCase);
        using var problem = JsonDocument.Parse(answer.Body);
        Assert.Equal((reason, TypePrefix + reason, status), (
            problem.RootElement.GetProperty("code").GetString(),
            problem.RootElement.GetProperty("type").GetString(),
            problem.RootElement.GetProperty("status").GetInt32()));
        await refusals.WaitForAsync(tenant, reason, counted);
    }
}
