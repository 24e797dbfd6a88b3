using System.Text.Json;
using Platform.Contracts.Config;
using Platform.Gateway.Tests.Support;

namespace Platform.Gateway.Tests.EndToEnd;

/// <summary>The gateway driven by Node's <c>ws</c> client, not only by .NET's.</summary>
public sealed class NodeClientTests
{
    [Fact]
    public async Task NodeWs_EchoSubProtocolAndDeflate_NegotiatedAndEchoed()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", new TenantConfig
        {
            WebSocket = new WebSocketConfig { SubProtocols = ["chat.v2", "chat.v1"], PerMessageDeflate = true },
        });
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");

        var (exit, stdout, stderr) = await NodeClient.RunAsync("ws-echo.mjs", gateway.WsUri("acme", "node").ToString(), "mqtt,chat.v1");

        Assert.True(exit == 0, $"node exited {exit}: {stdout} {stderr}");
        using var result = JsonDocument.Parse(stdout.Trim());
        var root = result.RootElement;
        Assert.Equal("chat.v1", root.GetProperty("protocol").GetString());
        Assert.StartsWith("permessage-deflate", root.GetProperty("extensions").GetString(), StringComparison.Ordinal);
        Assert.Equal("hello from node", root.GetProperty("text").GetString());
        Assert.Equal([0, 1, 2, 253, 254, 255], root.GetProperty("binary").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(1000, root.GetProperty("closeCode").GetInt32());

        var listed = await silo.WaitForConnectionAsync("acme", c => c.WebSocket?.Path == "/t/acme/node", state: "all");
        Assert.Equal("chat.v1", listed.WebSocket!.SubProtocol);
        Assert.True(listed.WebSocket.Compression);
    }

    [Fact]
    public async Task NodeWs_NoDeflateOrProtocolWhenTenantHasNone_PlainEcho()
    {
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme");
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");

        var (exit, stdout, stderr) = await NodeClient.RunAsync("ws-echo.mjs", gateway.WsUri("acme").ToString());

        Assert.True(exit == 0, $"node exited {exit}: {stdout} {stderr}");
        using var result = JsonDocument.Parse(stdout.Trim());
        Assert.Equal("", result.RootElement.GetProperty("protocol").GetString());
        Assert.Equal("", result.RootElement.GetProperty("extensions").GetString());
    }
}
