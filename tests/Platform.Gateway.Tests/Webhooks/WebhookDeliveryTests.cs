using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Gateway.Tests.Support;
using Platform.Testing;

namespace Platform.Gateway.Tests.Webhooks;

/// <summary>
/// <c>webhook</c> delivery end to end: real WebSocket and TLS clients, a real gateway and silo over PostgreSQL, and the
/// tenant's webhook as a real Kestrel server that checks every signature with its own implementation of the documented
/// format.
/// </summary>
public sealed class WebhookDeliveryTests
{
    private const string Secret = "whsec-test-0123456789abcdef";

    [Fact]
    public async Task WebSocket_AcceptedWithSubProtocolAndMetadata_MessagesBatchedInOrderSignedAndRepliesComeBack()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret);
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", Hooked(receiver, w => w with { BatchDelayMilliseconds = 300, BatchMaxMessages = 1000 }));
        await silo.CreateTenantAsync("other");
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");
        await gateway.WaitForTenantAsync("other");
        using var stranger = await WsClient.ConnectAsync(gateway.WsUri("other"));
        var strangerId = (await silo.WaitForConnectionAsync("other", _ => true)).Id;

        receiver.Answer = e => Task.FromResult<(int, string?, string?)>(e.Type == "connect"
            ? (200, """{"accept":true,"subProtocol":"chat.v2","metadata":{"user":"u-42","plan":"gold"}}""", null)
            : (200, Replies(e), null));
        using var client = await WsClient.ConnectAsync(new Uri(gateway.WsUri("acme", "room/7") + "?token=abc"), o =>
        {
            o.AddSubProtocol("chat.v1");
            o.AddSubProtocol("chat.v2");
            o.SetRequestHeader("X-Device", "sensor-9");
        });

        Assert.Equal("chat.v2", client.SubProtocol);
        var connect = await receiver.NextAsync("connect");
        Assert.True(connect.SignatureValid);
        Assert.Equal("acme", connect.Tenant);
        var ws = connect.Json.GetProperty("webSocket");
        Assert.Equal("/t/acme/room/7", ws.GetProperty("path").GetString());
        Assert.Equal("token=abc", ws.GetProperty("query").GetString());
        Assert.Equal(["chat.v1", "chat.v2"], ws.GetProperty("subProtocols").EnumerateArray().Select(p => p.GetString()!).ToArray());
        Assert.Contains(ws.GetProperty("headers").EnumerateArray(), h => h[0].GetString() == "X-Device" && h[1].GetString() == "sensor-9");
        Assert.Equal("127.0.0.1", connect.Json.GetProperty("remoteAddress").GetString());
        var connectionId = connect.Json.GetProperty("connectionId").GetString()!;
        var listed = await silo.WaitForConnectionAsync("acme", c => c.Id == connectionId);
        Assert.Equal("chat.v2", listed.WebSocket!.SubProtocol);

        // A burst: every message reaches the webhook once, in order, in fewer requests than messages.
        const int Count = 60;
        for (var i = 1; i <= Count; i++)
        {
            await WsClient.SendTextAsync(client, $"m{i}");
        }

        var delivered = new List<JsonElement>();
        var requests = new HashSet<string>();
        while (delivered.Count < Count)
        {
            var batch = await receiver.NextAsync("messages");
            Assert.True(batch.SignatureValid);
            Assert.True(requests.Add(batch.EventId), "each batch has its own event id");
            delivered.AddRange(batch.Json.GetProperty("messages").EnumerateArray().Where(m => m.GetProperty("connectionId").GetString() == connectionId));
        }

        Assert.Equal(Enumerable.Range(1, Count).Select(i => $"m{i}"), delivered.Select(m => m.GetProperty("text").GetString()));
        Assert.Equal(Enumerable.Range(1, Count).Select(i => (long)i), delivered.Select(m => m.GetProperty("sequence").GetInt64()));
        Assert.All(delivered, m => Assert.Equal("u-42", m.GetProperty("metadata").GetProperty("user").GetString()));
        Assert.True(requests.Count < Count, $"{Count} messages took {requests.Count} requests: not batched");

        // The answers carried a reply per message, to this connection and (ignored) to another tenant's connection.
        for (var i = 1; i <= Count; i++)
        {
            Assert.Equal($"re:m{i}", await WsClient.ReceiveTextAsync(client));
        }

        Assert.Equal(WebSocketState.Open, stranger.State);
        using var quiet = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await stranger.ReceiveAsync(new byte[16], quiet.Token));

        string Replies(WebhookRequest e)
        {
            var replies = e.Json.GetProperty("messages").EnumerateArray()
                .SelectMany(m => new object[]
                {
                    new { connectionId = m.GetProperty("connectionId").GetString(), text = "re:" + m.GetProperty("text").GetString() },
                    new { connectionId = strangerId, text = "not yours" },
                });
            return JsonSerializer.Serialize(new { replies });
        }
    }

    [Fact]
    public async Task Connect_RefusalsTimeoutsBadAnswersAndForwardOverrides_EachHandledAsDocumented()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret);
        await using var backend = new TcpEchoBackend();
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("strict", Hooked(receiver, w => w with { TimeoutSeconds = 1 }));
        await silo.CreateTenantAsync("lenient", Hooked(receiver, w => w with { TimeoutSeconds = 1, ConnectDefault = WebhookConnectDefaults.Accept }));
        await using var gateway = await silo.StartGatewayAsync();
        using var refusals = new RefusalRecorder(gateway);
        await gateway.WaitForTenantAsync("strict");
        await gateway.WaitForTenantAsync("lenient");
        var ws = gateway.WsEndPoint;

        // A refusal with a status and reason: the client reads both.
        receiver.Answer = _ => Task.FromResult<(int, string?, string?)>((401, """{"reason":"token expired"}""", null));
        var (status, _, body) = await RawHttp.UpgradeAsync(ws, "strict.platform.test", "/");
        Assert.Equal(401, status);
        Assert.Contains("\"code\":\"webhook_rejected\"", body, StringComparison.Ordinal);
        Assert.Contains("\"detail\":\"token expired\"", body, StringComparison.Ordinal);
        await refusals.WaitForAsync("strict", "webhook_rejected", 1);

        receiver.Answer = _ => Task.FromResult<(int, string?, string?)>((200, """{"accept":false,"status":429,"reason":"later"}""", null));
        Assert.Equal(429, (await RawHttp.UpgradeAsync(ws, "strict.platform.test", "/")).Status);

        // No usable answer: too slow, a redirect, a body over 64 KiB, garbage, a 500, a sub-protocol nobody offered.
        (int, string?, string?)[] unusable =
        [
            (302, null, "http://127.0.0.1:1/elsewhere"),
            (200, new string(' ', 70 * 1024) + "{}", null),
            (200, "{not json", null),
            (500, null, null),
            (200, """{"subProtocol":"never-offered"}""", null),
            (200, """{"metadata":{"bad key!":"x"}}""", null),
        ];
        var expected = 0;
        foreach (var answer in unusable)
        {
            receiver.Answer = _ => Task.FromResult(answer);
            Assert.Equal(503, (await RawHttp.UpgradeAsync(ws, "strict.platform.test", "/")).Status);
            Assert.Equal(101, (await RawHttp.UpgradeAsync(ws, "lenient.platform.test", "/")).Status);
            expected++;
        }

        receiver.Answer = async _ =>
        {
            await Task.Delay(TimeSpan.FromSeconds(3));
            return (204, null, null);
        };
        Assert.Equal(503, (await RawHttp.UpgradeAsync(ws, "strict.platform.test", "/")).Status);
        Assert.Equal(101, (await RawHttp.UpgradeAsync(ws, "lenient.platform.test", "/")).Status);
        await refusals.WaitForAsync("strict", "webhook_unavailable", expected + 1);
        Assert.Equal(0, refusals.Count("lenient", "webhook_unavailable"));

        // The WebSocketProxy override: this connection goes to the backend the webhook named.
        receiver.Answer = _ => Task.FromResult<(int, string?, string?)>((200, JsonSerializer.Serialize(new { forward = new { host = "127.0.0.1", port = backend.Port } }), null));
        using (var forwarded = await WsClient.ConnectAsync(gateway.WsUri("strict")))
        {
            await WsClient.SendTextAsync(forwarded, "via override");
            var (_, echoed) = await WsClient.ReceiveAsync(forwarded);
            Assert.Equal("via override", Encoding.UTF8.GetString(echoed));
            Assert.Equal(1, backend.Accepted);
        }

        // An override to an address the egress policy forbids is refused where the decision is made, as an unreachable backend.
        foreach (var forbidden in new[] { "10.1.2.3", "169.254.169.254", "192.168.0.10" })
        {
            receiver.Answer = _ => Task.FromResult<(int, string?, string?)>((200, JsonSerializer.Serialize(new { forward = new { host = forbidden, port = 80 } }), null));
            Assert.Equal(502, (await RawHttp.UpgradeAsync(ws, "strict.platform.test", "/")).Status);
        }

        await refusals.WaitForAsync("strict", "backend_forbidden", 3);
    }

    [Fact]
    public async Task Connect_UrlNotValidated_NothingSentAndRefused()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret);
        receiver.AllowOrigin = false;
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", Hooked(receiver));
        await using var gateway = await silo.StartGatewayAsync();
        using var refusals = new RefusalRecorder(gateway);
        await gateway.WaitForTenantAsync("acme");

        Assert.Equal(503, (await RawHttp.UpgradeAsync(gateway.WsEndPoint, "acme.platform.test", "/")).Status);

        Assert.True(receiver.OptionsRequests >= 1);
        Assert.Empty(receiver.Posts);
        await refusals.WaitForAsync("acme", "webhook_unavailable", 1);
    }

    [Fact]
    public async Task Messages_ReceiverStalls_ClientHeldBackThenClosedWith4007AndNothingLostBefore()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        receiver.Answer = async e =>
        {
            if (e.Type == "messages")
            {
                await release.Task;
            }

            return (204, null, null);
        };
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", Hooked(receiver, w => w with
        {
            TimeoutSeconds = 30,
            BatchMaxBytes = 1024,
            BatchDelayMilliseconds = 0,
            BackpressureTimeoutSeconds = 2,
        }));
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");
        using var client = await WsClient.ConnectAsync(gateway.WsUri("acme"));
        var connectionId = (await receiver.NextAsync("connect")).Json.GetProperty("connectionId").GetString()!;

        // 1 KiB messages: the first batch is in flight and stalls, the queue's 4 KiB fill, then the gateway stops reading.
        var payload = new string('x', 1000);
        var sent = 0;
        var sending = Task.Run(async () =>
        {
            try
            {
                while (client.State == WebSocketState.Open)
                {
                    await WsClient.SendTextAsync(client, payload);
                    sent++;
                }
            }
            catch (WebSocketException)
            {
                // The gateway closed the connection under the sender.
            }
            catch (OperationCanceledException)
            {
            }
        });

        var (type, _) = await WsClient.ReceiveAsync(client);
        Assert.Equal(WebSocketMessageType.Close, type);
        Assert.Equal(4007, (int)client.CloseStatus!);
        Assert.Equal("webhook backlog", client.CloseStatusDescription);
        var closed = await silo.WaitForConnectionAsync("acme", c => c.Id == connectionId, state: "closed");
        Assert.Equal(4007, closed.CloseCode);

        // The gateway took what fit the tenant's budget (4 × batchMaxBytes: four of these messages, the stalled batch
        // among them) and the one message that waited out the allowance: those are delivered once the webhook is back.
        // What piled up in the socket meanwhile, read after the 4007 decision, is counted and not taken, so the queue
        // never outgrew its budget by more than that one message however much the client pushed.
        release.SetResult();
        await sending.WaitAsync(TimeSpan.FromSeconds(30));
        var accepted = 4 * 1024 / payload.Length + 1;
        Assert.InRange((int)closed.MessagesIn, accepted, sent);
        var delivered = 0;
        while (delivered < accepted)
        {
            var batch = await receiver.NextAsync("messages");
            delivered += batch.Json.GetProperty("messages").GetArrayLength();
        }

        Assert.Equal(accepted, delivered);
        await Task.Delay(TimeSpan.FromSeconds(2));
        var batches = receiver.Posts.Where(p => p.Type == "messages").DistinctBy(p => p.EventId);
        Assert.Equal(accepted, batches.Sum(p => p.Json.GetProperty("messages").GetArrayLength()));
    }

    [Fact]
    public async Task Tls_ConnectEventCarriesTlsFactsAndStreamChunksGoBothWays()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret);
        receiver.Answer = e => Task.FromResult<(int, string?, string?)>(e.Type == "connect"
            ? (204, null, null)
            : (200, JsonSerializer.Serialize(new
            {
                replies = e.Json.GetProperty("messages").EnumerateArray().Select(m => new
                {
                    connectionId = m.GetProperty("connectionId").GetString(),
                    data = Convert.ToBase64String(Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(m.GetProperty("data").GetBytesFromBase64()).ToUpperInvariant())),
                }),
            }), null));
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", Hooked(receiver));
        await TlsTenantSetup.UploadServerCertificateAsync(silo, "acme", "acme.platform.test");
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForSnapshotAsync(s => s.BySlug.TryGetValue("acme", out var t) && t.Source.Certificates.Count == 1);

        await using var tls = await TlsClient.ConnectAsync(gateway.TlsEndPoint, "acme.platform.test");
        var connect = await receiver.NextAsync("connect");
        Assert.Equal(ConnectionProtocols.Tls, connect.Json.GetProperty("protocol").GetString());
        Assert.Equal("acme.platform.test", connect.Json.GetProperty("tls").GetProperty("sni").GetString());
        Assert.False(connect.Json.TryGetProperty("webSocket", out _));

        // Framing "none": chunks as they arrive; whatever the cut, the bytes arrive whole and in order, and so do the replies.
        Assert.Equal("HELLO OVER TLS\n", await tls.EchoAsync("hello over tls\n"));
        var received = new StringBuilder();
        while (received.Length < "hello over tls\n".Length)
        {
            var batch = await receiver.NextAsync("messages");
            foreach (var message in batch.Json.GetProperty("messages").EnumerateArray())
            {
                received.Append(Encoding.UTF8.GetString(message.GetProperty("data").GetBytesFromBase64()));
            }
        }

        Assert.Equal("hello over tls\n", received.ToString());
    }

    [Fact]
    public async Task Shutdown_ReceiverFailsEveryBatch_GatewayGivesUpAfterTheDrainLimitAndStopsCleanly()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret);
        receiver.Answer = e => Task.FromResult<(int, string?, string?)>(e.Type == "messages" ? (500, null, null) : (204, null, null));
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", Hooked(receiver, w => w with { BatchDelayMilliseconds = 0 }));
        var gateway = await silo.StartGatewayAsync();
        try
        {
            await gateway.WaitForTenantAsync("acme");
            using var client = await WsClient.ConnectAsync(gateway.WsUri("acme"));
            await WsClient.SendTextAsync(client, "never taken");
            // The batch was tried and refused: it stays queued, retried with backoff, when the gateway stops.
            Assert.Equal("never taken", (await receiver.NextAsync("messages")).Json.GetProperty("messages")[0].GetProperty("text").GetString());
        }
        finally
        {
            // Stopping waits up to the drain limit for the batch, then gives it up: no exception from the queue's shutdown.
            await gateway.DisposeAsync();
        }

        Assert.All(receiver.Posts.Where(p => p.Type == "messages"), p => Assert.True(p.SignatureValid));
    }

    private static TenantConfig Hooked(WebhookReceiver receiver, Func<WebhookConfig, WebhookConfig>? tune = null)
    {
        var webhook = new WebhookConfig { Url = receiver.Url, Secret = Secret, TimeoutSeconds = 5 };
        return new TenantConfig
        {
            Delivery = new DeliveryConfig { Mode = DeliveryModes.Webhook, Webhook = tune is null ? webhook : tune(webhook) },
        };
    }
}
