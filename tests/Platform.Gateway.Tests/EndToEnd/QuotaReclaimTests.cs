using System.Net;
using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts.Config;
using Platform.Gateway.Admission;
using Platform.Gateway.Tests.Support;

namespace Platform.Gateway.Tests.EndToEnd;

/// <summary>
/// A tenant's MaxConnections slots go where its connections are: with two real gateways on a real silo, either one
/// fills the whole tenant while the other is idle, and neither admits one connection more.
/// </summary>
public sealed class QuotaReclaimTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(40)]
    public async Task MaxConnections_TwoGateways_EitherFillsTheTenantWhileTheOtherIsIdle(int max)
    {
        await using var silo = await SiloFixture.StartAsync();
        var tenant = await silo.CreateTenantAsync("acme", new TenantConfig { Limits = new LimitsConfig { MaxConnections = max } });
        // A connection waiting for reclaimed slots waits up to the longest allowed wait: the machine may be busy.
        var settings = new Dictionary<string, string?> { ["Platform:LeaseWaitMilliseconds"] = "5000" };
        await using var a = await silo.StartGatewayAsync(settings: settings);
        await using var b = await silo.StartGatewayAsync(settings: settings);
        await a.WaitRegisteredAsync();
        await b.WaitRegisteredAsync();
        await a.WaitForSnapshotAsync(s => s.BySlug.ContainsKey("acme"));
        await b.WaitForSnapshotAsync(s => s.BySlug.ContainsKey("acme"));
        var leasesA = a.Services.GetRequiredService<LeaseManager>();
        var leasesB = b.Services.GetRequiredService<LeaseManager>();
        // Both have made their first lease rounds: each holds its idle share, as far as the tenant has slots.
        await Wait.UntilAsync(() => leasesA.Get(tenant.Id).Held + leasesB.Get(tenant.Id).Held >= Math.Min(2, max), "the first lease rounds");

        foreach (var (full, idle) in new[] { (b, a), (a, b) })
        {
            var open = new List<ClientWebSocket>();
            for (var i = 0; i < max; i++)
            {
                var (socket, status) = await ConnectAsync(full);
                Assert.True(socket is not null, $"connection {i + 1} of {max} on the busy gateway was refused ({status})");
                open.Add(socket);
            }

            Assert.Equal(max, full.Registry.Count);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await ConnectAsync(full)).Status);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await ConnectAsync(idle)).Status);
            Assert.Equal(max, full.Registry.Count + idle.Registry.Count);

            foreach (var socket in open)
            {
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
                socket.Dispose();
            }

            // Idle again: the busy gateway keeps its idle share only, and the other has heard that slots are to be had.
            var fullLeases = full.Services.GetRequiredService<LeaseManager>();
            var idleLeases = idle.Services.GetRequiredService<LeaseManager>();
            await Wait.UntilAsync(
                () => full.Registry.Count == 0 && fullLeases.Get(tenant.Id) is { InUse: 0, Held: <= 1 } && idleLeases.MayGrantSoon(tenant.Id),
                "the busy gateway idle again");
        }
    }

    private static async Task<(ClientWebSocket? Socket, HttpStatusCode Status)> ConnectAsync(TestGateway gateway)
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        try
        {
            await socket.ConnectAsync(gateway.WsUri("acme"), CancellationToken.None);
            return (socket, socket.HttpStatusCode);
        }
        catch (WebSocketException)
        {
            var status = socket.HttpStatusCode;
            socket.Dispose();
            return (null, status);
        }
    }
}
