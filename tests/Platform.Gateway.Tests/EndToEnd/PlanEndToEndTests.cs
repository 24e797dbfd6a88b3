using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.Tenants;
using Platform.Gateway.Admission;
using Platform.Gateway.Tests.Support;

namespace Platform.Gateway.Tests.EndToEnd;

/// <summary>An operator's plan change reaches a running gateway through the config watch, without touching the tenant's configuration.</summary>
public sealed class PlanEndToEndTests
{
    [Fact]
    public async Task LoweringThePlansMaxConnectionsToOne_SecondWsConnectionRefused_FirstKeepsWorking()
    {
        await using var silo = await SiloFixture.StartAsync();
        var tenant = await silo.CreateTenantAsync("acme");
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");
        await gateway.WaitRegisteredAsync();
        using var first = await WsClient.ConnectAsync(gateway.WsUri("acme", "first"));

        await SetPlanAsync(silo, "acme", new { maxConnections = 1 });
        await gateway.WaitForSnapshotAsync(s => s.BySlug["acme"].Config.Limits.MaxConnections == 1);
        // The lease manager gives back what it held beyond the new maximum on the next round after the snapshot changed.
        var leases = gateway.Services.GetRequiredService<LeaseManager>();
        await Wait.UntilAsync(() => leases.Get(tenant.Id).Held == 1, "the gateway's lease lowered to the plan's one slot");

        using var second = new ClientWebSocket();
        second.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => second.ConnectAsync(gateway.WsUri("acme", "second"), CancellationToken.None));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, second.HttpStatusCode);
        await WsClient.SendTextAsync(first, "still here");
        Assert.Equal("still here", await WsClient.ReceiveTextAsync(first));
        Assert.Equal(1, gateway.Registry.Count);
        var own = await silo.Operator.GetFromJsonAsync<ConfigResponse>(new Uri("/v1/tenants/acme/config", UriKind.Relative), PlatformJson.Options);
        Assert.Equal(LimitsConfig.DefaultMaxConnections, own!.Config.Limits.MaxConnections);
    }

    [Fact]
    public async Task LoweringThePlansMaxMessageSize_LargerMessageClosedWith1009()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");

        await SetPlanAsync(silo, "acme", new { maxMessageSize = 1024 });
        await gateway.WaitForSnapshotAsync(s => s.BySlug["acme"].Config.WebSocket.MaxMessageSize == 1024);
        using var client = await WsClient.ConnectAsync(gateway.WsUri("acme", "capped"));
        await client.SendAsync(new byte[1024], WebSocketMessageType.Binary, true, CancellationToken.None);
        Assert.Equal(1024, (await WsClient.ReceiveAsync(client)).Payload.Length);

        await client.SendAsync(new byte[4096], WebSocketMessageType.Binary, true, CancellationToken.None);

        var (type, _) = await WsClient.ReceiveAsync(client);
        Assert.Equal(WebSocketMessageType.Close, type);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, client.CloseStatus);
    }

    private static async Task SetPlanAsync(SiloFixture silo, string slug, object plan)
    {
        using var response = await silo.Operator.PutAsJsonAsync(new Uri($"/v1/tenants/{slug}/plan", UriKind.Relative), plan, PlatformJson.Options);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"PUT plan answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }
}
