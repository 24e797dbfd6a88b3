using System.Net.WebSockets;
using Platform.Contracts.Config;
using Platform.Gateway.Tests.Support;
using Platform.Testing;

namespace Platform.Gateway.Tests.EndToEnd;

/// <summary>Idle timeout on a fake clock; ping interval with pong timeout on real sockets.</summary>
public sealed class TimeoutTests
{
    [Fact]
    public async Task IdleTimeout_FakeClockPassesIt_IdleConnectionClosedActiveOneStays()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig
        {
            Timeouts = new TimeoutsConfig { IdleTimeoutSeconds = 30 },
            WebSocket = new WebSocketConfig { PingIntervalSeconds = 0 },
        });
        await using var gateway = await silo.StartGatewayAsync(time: clock);
        await gateway.WaitForTenantAsync("acme");
        using var idle = await WsClient.ConnectAsync(gateway.WsUri("acme", "idle"));
        using var active = await WsClient.ConnectAsync(gateway.WsUri("acme", "active"));
        await Wait.UntilAsync(() => gateway.Registry.Count == 2, "both connections registered");

        clock.Advance(TimeSpan.FromSeconds(20));
        await WsClient.SendTextAsync(active, "keeping busy");
        Assert.Equal("keeping busy", await WsClient.ReceiveTextAsync(active));
        Assert.Equal(2, gateway.Registry.Count);
        clock.Advance(TimeSpan.FromSeconds(15));

        var (type, _) = await WsClient.ReceiveAsync(idle);
        Assert.Equal(WebSocketMessageType.Close, type);
        Assert.Equal(4000, (int)idle.CloseStatus!);
        Assert.Equal("idle timeout", idle.CloseStatusDescription);
        await Wait.UntilAsync(() => gateway.Registry.Count == 1, "the idle connection to leave the registry");
        await WsClient.SendTextAsync(active, "still open");
        Assert.Equal("still open", await WsClient.ReceiveTextAsync(active));
        Assert.Equal(WebSocketState.Open, active.State);
    }

    [Fact]
    public async Task PingInterval_ClientNeverAnswersPong_ClosedWhileAnsweringClientStays()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig
        {
            WebSocket = new WebSocketConfig { PingIntervalSeconds = 1, PongTimeoutSeconds = 1 },
        });
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");
        using var answering = await WsClient.ConnectAsync(gateway.WsUri("acme", "answering"));
        var answeringReceive = WsClient.ReceiveAsync(answering);
        using var silent = await RawWebSocket.ConnectAsync(gateway.WsEndPoint, "acme.platform.test", "/silent");

        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var frames = await silent.ReadUntilEndAsync(limit.Token);

        Assert.Contains(frames, f => f.Opcode == 0x9);
        var closed = await silo.WaitForConnectionAsync("acme", c => c.WebSocket?.Path == "/silent", state: "closed");
        Assert.Equal((4006, "pong timeout"), (closed.CloseCode, closed.CloseReason));
        await WsClient.SendTextAsync(answering, "alive");
        var (_, payload) = await answeringReceive;
        Assert.Equal("alive", System.Text.Encoding.UTF8.GetString(payload));
        Assert.Equal(WebSocketState.Open, answering.State);
    }
}
