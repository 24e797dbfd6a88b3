using System.Net.WebSockets;
using Platform.Gateway.Tests.Support;

namespace Platform.Gateway.Tests.EndToEnd;

/// <summary>
/// Message boundaries through the receive loop, which waits between messages without a buffer: empty
/// messages, messages in many frames, and messages larger than the first buffer all come back whole.
/// </summary>
public sealed class WebSocketMessageTests
{
    [Fact]
    public async Task Echo_EmptyFragmentedAndLargeMessages_ComeBackWhole()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");
        using var client = await WsClient.ConnectAsync(gateway.WsUri("acme"));
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        await client.SendAsync(ReadOnlyMemory<byte>.Empty, WebSocketMessageType.Binary, true, limit.Token);
        var (type, payload) = await WsClient.ReceiveAsync(client);
        Assert.Equal(WebSocketMessageType.Binary, type);
        Assert.Empty(payload);

        await client.SendAsync(ReadOnlyMemory<byte>.Empty, WebSocketMessageType.Text, true, limit.Token);
        (type, payload) = await WsClient.ReceiveAsync(client);
        Assert.Equal(WebSocketMessageType.Text, type);
        Assert.Empty(payload);

        var large = new byte[100_000];
        Random.Shared.NextBytes(large);
        for (var offset = 0; offset < large.Length; offset += 7_000)
        {
            var end = Math.Min(large.Length, offset + 7_000);
            await client.SendAsync(large.AsMemory(offset, end - offset), WebSocketMessageType.Binary, end == large.Length, limit.Token);
        }

        (type, payload) = await WsClient.ReceiveAsync(client);
        Assert.Equal(WebSocketMessageType.Binary, type);
        Assert.Equal(large, payload);

        await WsClient.SendTextAsync(client, "after");
        Assert.Equal("after", await WsClient.ReceiveTextAsync(client));
    }
}
