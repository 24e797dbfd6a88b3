using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Platform.AdminWeb.Silo;

namespace Platform.AdminWeb.Tests.Silo;

/// <summary>
/// The portal's "test connection" buttons follow the operator's egress policy, as the gateways do: a target the policy
/// refuses is never connected to, from the portal host either.
/// </summary>
public sealed class TargetProbeTests
{
    [Fact]
    public async Task ConnectTcp_LoopbackListenerUnderTheDefaultPolicy_RefusedWithoutAConnection()
    {
        await using var app = await PortalApp.StartAsync();
        using var listener = Listen();
        var probe = app.Services.GetRequiredService<TargetProbe>();

        foreach (var host in new[] { "127.0.0.1", "localhost", "0x7f.1", "2130706433", "[::ffff:127.0.0.1]" })
        {
            var result = await probe.ConnectTcpAsync(host, Port(listener), CancellationToken.None);
            Assert.False(result.Success, host);
            Assert.Contains("egress policy", result.Message, StringComparison.Ordinal);
        }

        Assert.False(listener.Server.Poll(200_000, SelectMode.SelectRead), "the refused probe reached the listener");
    }

    [Theory]
    [InlineData("169.254.169.254")]
    [InlineData("10.1.2.3")]
    [InlineData("2852039166")]
    public async Task ConnectTcp_MetadataAndPrivateAddresses_RefusedByTheVerdictBeforeAnyConnect(string host)
    {
        await using var app = await PortalApp.StartAsync();
        var probe = app.Services.GetRequiredService<TargetProbe>();

        var result = await probe.ConnectTcpAsync(host, 80, CancellationToken.None);

        Assert.False(result.Success);
        Assert.Contains("egress policy", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectTcp_RangeTheOperatorAllows_Connects()
    {
        await using var app = await PortalApp.StartAsync(portalSettings: new Dictionary<string, string?> { ["Platform:Egress:AllowedRanges:0"] = "127.0.0.0/8" });
        using var listener = Listen();
        var probe = app.Services.GetRequiredService<TargetProbe>();

        var result = await probe.ConnectTcpAsync("127.0.0.1", Port(listener), CancellationToken.None);

        Assert.True(result.Success, result.Message);
    }

    [Fact]
    public async Task PostWebhook_LoopbackUrl_RefusedUnlessAllowed()
    {
        using var listener = Listen();
        var url = $"http://127.0.0.1:{Port(listener)}/hook";
        var served = ServeOneHttpAnswerAsync(listener);

        await using (var strict = await PortalApp.StartAsync())
        {
            var refused = await strict.Services.GetRequiredService<TargetProbe>().PostWebhookAsync(url, CancellationToken.None);
            Assert.False(refused.Success);
            Assert.Contains("egress policy", refused.Message, StringComparison.Ordinal);
            Assert.False(served.IsCompleted, "the refused webhook probe reached the receiver");
        }

        await using var allowing = await PortalApp.StartAsync(portalSettings: new Dictionary<string, string?> { ["Platform:Egress:AllowedRanges:0"] = "127.0.0.0/8" });
        var answered = await allowing.Services.GetRequiredService<TargetProbe>().PostWebhookAsync(url, CancellationToken.None);
        Assert.True(answered.Success, answered.Message);
        Assert.Contains("HTTP 204", answered.Message, StringComparison.Ordinal);
        await served.WaitAsync(TimeSpan.FromSeconds(20));
    }

    private static TcpListener Listen()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return listener;
    }

    private static int Port(TcpListener listener) => ((IPEndPoint)listener.LocalEndpoint).Port;

    private static async Task ServeOneHttpAnswerAsync(TcpListener listener)
    {
        using var client = await listener.AcceptTcpClientAsync();
        var stream = client.GetStream();
        var buffer = new byte[4096];
        var head = new StringBuilder();
        while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer);
            if (read == 0)
            {
                return;
            }

            head.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        await stream.WriteAsync("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"u8.ToArray());
    }
}
