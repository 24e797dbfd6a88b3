using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Platform.Contracts;
using Platform.Contracts.Connections;
using Platform.Contracts.Tenants;
using Platform.Contracts.Usage;
using Platform.Gateway.Tcp;
using Platform.Gateway.Tests.Support;
using Platform.Testing;
using static Platform.Gateway.Tests.Support.TlsTenantSetup;

namespace Platform.Gateway.Tests.EndToEnd;

/// <summary>Usage metered from real traffic through a real gateway, read back from the silo's REST API.</summary>
public sealed class UsageEndToEndTests
{
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Usage_WebSocketMessagesAndTcpBytes_TotalsEqualWhatTheClientsSent()
    {
        var (first, last) = FreePorts.Range(2);
        await using var silo = await SiloFixture.StartAsync(SiloPortRange((first, last)));
        await silo.CreateTenantAsync("acme");
        await silo.CreateTenantAsync("beta");
        await using var gateway = await silo.StartGatewayAsync(settings: GatewayPortRange((first, last)));
        await gateway.WaitForTenantAsync("acme");
        var listeners = (DedicatedPortListeners)gateway.Services.GetService(typeof(DedicatedPortListeners))!;
        var tcp = await AllocatePortAsync(silo, "acme", DedicatedPortProtocols.Tcp);
        await WaitUntilAsync(() => Task.FromResult(listeners.OpenPorts.Contains(tcp.Port)), "the dedicated listener");

        // ws: seven messages of known sizes, each echoed back.
        var messages = Enumerable.Range(0, 7).Select(i => new string((char)('a' + i), 10 + (i * 13))).ToArray();
        using (var client = await WsClient.ConnectAsync(gateway.WsUri("acme", "meter")))
        {
            foreach (var message in messages)
            {
                await WsClient.SendTextAsync(client, message);
                Assert.Equal(message, await WsClient.ReceiveTextAsync(client));
            }

            using var limit = new CancellationTokenSource(WaitLimit);
            await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", limit.Token);
        }

        // TCP: 3000 bytes in three writes, echoed back.
        var payload = Enumerable.Range(0, 3000).Select(i => (byte)(i % 251)).ToArray();
        using (var plain = new TcpClient())
        {
            await plain.ConnectAsync(IPAddress.Loopback, tcp.Port);
            var stream = plain.GetStream();
            using var limit = new CancellationTokenSource(WaitLimit);
            var echoed = new byte[payload.Length];
            var reading = stream.ReadExactlyAsync(echoed, limit.Token).AsTask();
            foreach (var chunk in payload.Chunk(1000))
            {
                await stream.WriteAsync(chunk, limit.Token);
            }

            await reading;
            Assert.Equal(payload, echoed);
        }

        // Both closes reach the directory; the usage read afterwards has them settled.
        var ws = await silo.WaitForConnectionAsync("acme", c => c.Protocol == ConnectionProtocols.Ws, state: "closed");
        var raw = await silo.WaitForConnectionAsync("acme", c => c.Protocol == ConnectionProtocols.Tcp, state: "closed");
        var usage = await silo.Operator.GetFromJsonAsync<TenantUsageResponse>(
            new Uri("/v1/tenants/acme/usage?granularity=day", UriKind.Relative), PlatformJson.Options);

        var wsBytes = messages.Sum(m => (long)Encoding.UTF8.GetByteCount(m));
        var byProtocol = usage!.Buckets.GroupBy(b => b.Protocol).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var wsUsage = Assert.Single(byProtocol[ConnectionProtocols.Ws]).Usage;
        var tcpUsage = Assert.Single(byProtocol[ConnectionProtocols.Tcp]).Usage;
        Assert.Equal((1L, 7L, 7L, wsBytes, wsBytes), (wsUsage.ConnectionsOpened, wsUsage.MessagesIn, wsUsage.MessagesOut, wsUsage.BytesIn, wsUsage.BytesOut));
        Assert.Equal((1L, 3000L, 3000L), (tcpUsage.ConnectionsOpened, tcpUsage.BytesIn, tcpUsage.BytesOut));
        // TCP messages are framing's business; metered exactly as the gateway counted them.
        Assert.Equal((raw.MessagesIn, raw.MessagesOut), (tcpUsage.MessagesIn, tcpUsage.MessagesOut));
        Assert.Equal((2L, wsBytes + 3000, wsBytes + 3000, 1L), (usage.Totals.ConnectionsOpened, usage.Totals.BytesIn, usage.Totals.BytesOut, usage.Totals.PeakConcurrent));
        // Stored to the millisecond.
        Assert.InRange(wsUsage.ConnectionSeconds - (decimal)(ws.ClosedAt!.Value - ws.OpenedAt).TotalSeconds, -0.001m, 0.001m);
        Assert.InRange(tcpUsage.ConnectionSeconds - (decimal)(raw.ClosedAt!.Value - raw.OpenedAt).TotalSeconds, -0.001m, 0.001m);

        // Another tenant's key sees none of it.
        using var betaKey = new HttpClient { BaseAddress = silo.Url };
        betaKey.DefaultRequestHeaders.Authorization = new("Bearer", await CreateKeyAsync(silo, "beta"));
        using var refused = await betaKey.GetAsync(new Uri("/v1/tenants/acme/usage", UriKind.Relative));
        var own = await betaKey.GetFromJsonAsync<TenantUsageResponse>(new Uri("/v1/tenants/beta/usage", UriKind.Relative), PlatformJson.Options);
        Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        Assert.Empty(own!.Buckets);
    }

    [Fact]
    public async Task Usage_GatewayLostThenBack_ReportedTrafficKeptAndNothingCountedTwice()
    {
        await using var silo = await SiloFixture.StartAsync(behindRelay: true);
        await silo.CreateTenantAsync("acme");
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");
        await gateway.WaitRegisteredAsync();
        using var client = await WsClient.ConnectAsync(gateway.WsUri("acme", "meter"));
        foreach (var message in new[] { "one", "two", "three", "four" })
        {
            await WsClient.SendTextAsync(client, message);
            Assert.Equal(message, await WsClient.ReceiveTextAsync(client));
        }

        var reported = await silo.WaitForConnectionAsync("acme", c => c.MessagesIn == 4 && c.MessagesOut == 4);

        // Cut off from the silo: no heartbeat, no event. The reaper closes the connection with what was reported.
        silo.Relay!.Cut();
        var reaped = await silo.WaitForConnectionAsync("acme", c => c.Id == reported.Id && c.CloseReason == "gateway lost", state: "closed");
        var lost = await ReadTotalsAsync(silo);
        Assert.Equal((1L, 4L, 4L, 15L, 15L, 1L), (lost.ConnectionsOpened, lost.MessagesIn, lost.MessagesOut, lost.BytesIn, lost.BytesOut, lost.PeakConcurrent));
        Assert.InRange(lost.ConnectionSeconds - (decimal)(reaped.ClosedAt!.Value - reaped.OpenedAt).TotalSeconds, -0.001m, 0.001m);

        // Back: the gateway announces the live connection again; two more messages, then a close of the client's own.
        silo.Relay.Restore();
        // The Orleans client's reconnection backs off; generous on a loaded machine.
        await WaitUntilAsync(async () => (await Wait.ListAsync(silo, "acme")).Count == 1, "the live connection listed again", TimeSpan.FromSeconds(90));
        foreach (var message in new[] { "five", "six" })
        {
            await WsClient.SendTextAsync(client, message);
            Assert.Equal(message, await WsClient.ReceiveTextAsync(client));
        }

        using (var limit = new CancellationTokenSource(WaitLimit))
        {
            await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", limit.Token);
        }

        var closed = await silo.WaitForConnectionAsync("acme", c => c.Id == reported.Id && c.CloseReason != "gateway lost", state: "closed");
        var total = await ReadTotalsAsync(silo);
        Assert.Equal((1L, 6L, 6L, 22L, 22L, 1L), (total.ConnectionsOpened, total.MessagesIn, total.MessagesOut, total.BytesIn, total.BytesOut, total.PeakConcurrent));
        Assert.InRange(total.ConnectionSeconds - (decimal)(closed.ClosedAt!.Value - closed.OpenedAt).TotalSeconds, -0.002m, 0.002m);
    }

    private static async Task<UsageFigures> ReadTotalsAsync(SiloFixture silo) =>
        (await silo.Operator.GetFromJsonAsync<TenantUsageResponse>(
            new Uri("/v1/tenants/acme/usage?granularity=day", UriKind.Relative), PlatformJson.Options))!.Totals;

    private static async Task<string> CreateKeyAsync(SiloFixture silo, string slug)
    {
        using var response = await silo.Operator.PostAsJsonAsync(
            new Uri($"/v1/tenants/{slug}/api-keys", UriKind.Relative), new Contracts.ApiKeys.CreateApiKeyRequest("usage"), PlatformJson.Options);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<Contracts.ApiKeys.CreatedApiKeyResponse>(PlatformJson.Options))!.Secret;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan? within = null)
    {
        using var limit = new CancellationTokenSource(within ?? WaitLimit);
        while (!await condition())
        {
            try
            {
                await Task.Delay(50, limit.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"Timed out after {(within ?? WaitLimit).TotalSeconds} s waiting for {what}.");
            }
        }
    }
}
