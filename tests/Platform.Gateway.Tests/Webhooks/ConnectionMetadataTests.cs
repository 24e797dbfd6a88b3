using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Platform.Contracts;
using Platform.Contracts.ApiKeys;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Gateway.Tests.Support;
using Platform.Testing;

namespace Platform.Gateway.Tests.Webhooks;

/// <summary>
/// What a webhook's connect answer decides, as the connection directory shows it: the metadata it attached and the
/// forward target it chose, carried from a real gateway to a real silo over PostgreSQL and read back through the REST
/// API (every answer held to the silo's OpenAPI document); only the connection's own tenant sees them, and an answer
/// whose metadata breaks the documented rules attaches nothing.
/// </summary>
public sealed class ConnectionMetadataTests
{
    private const string Secret = "whsec-test-0123456789abcdef";

    [Fact]
    public async Task Connect_AnswerAttachesMetadataAndForward_DirectoryShowsThemToTheTenantOnly()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret);
        await using var backend = new TcpEchoBackend();
        await using var silo = await SiloFixture.StartAsync();
        await silo.CreateTenantAsync("acme", Hooked(receiver));
        await silo.CreateTenantAsync("other");
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");
        await gateway.WaitForTenantAsync("other");

        // Keys come back exactly as the webhook wrote them (no camel-casing), values as given.
        receiver.Answer = _ => Answer(new { accept = true, metadata = new Dictionary<string, string> { ["User.Id"] = "u-42", ["plan"] = "Gold tier", ["Region_EU-1"] = "é✓" } });
        using var client = await WsClient.ConnectAsync(gateway.WsUri("acme"));
        var id = (await receiver.NextAsync("connect")).Json.GetProperty("connectionId").GetString()!;
        var listed = await silo.WaitForConnectionAsync("acme", c => c.Id == id);
        var expected = new Dictionary<string, string> { ["User.Id"] = "u-42", ["plan"] = "Gold tier", ["Region_EU-1"] = "é✓" };
        Assert.Equal(expected, listed.Metadata);
        Assert.Null(listed.ForwardTarget);

        using var single = await silo.Operator.GetAsync(new Uri($"/v1/tenants/acme/connections/{id}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, single.StatusCode);
        var raw = JsonDocument.Parse(await single.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(["Region_EU-1", "User.Id", "plan"], raw.GetProperty("metadata").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal(JsonValueKind.Null, raw.GetProperty("forwardTarget").ValueKind);

        // The WebSocketProxy override: the directory names the target the webhook chose, beside its metadata.
        receiver.Answer = _ => Answer(new { forward = new { host = "127.0.0.1", port = backend.Port }, metadata = new { route = "b" } });
        using var forwarded = await WsClient.ConnectAsync(gateway.WsUri("acme"));
        var forwardedId = (await receiver.NextAsync("connect")).Json.GetProperty("connectionId").GetString()!;
        await WsClient.SendTextAsync(forwarded, "via override");
        Assert.Equal("via override", Encoding.UTF8.GetString((await WsClient.ReceiveAsync(forwarded)).Payload));
        var forwardedListed = await silo.WaitForConnectionAsync("acme", c => c.Id == forwardedId);
        Assert.Equal($"127.0.0.1:{backend.Port}", forwardedListed.ForwardTarget);
        Assert.Equal(new Dictionary<string, string> { ["route"] = "b" }, forwardedListed.Metadata);

        // Another tenant: neither its slug nor its key reaches the connection or its metadata.
        using (var wrongSlug = await silo.Operator.GetAsync(new Uri($"/v1/tenants/other/connections/{id}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NotFound, wrongSlug.StatusCode);
            Assert.Equal("connection_not_found", JsonDocument.Parse(await wrongSlug.Content.ReadAsStringAsync()).RootElement.GetProperty("code").GetString());
        }

        using var intruder = silo.Silo.ClientWith(await CreateKeyAsync(silo, "other"));
        foreach (var path in new[] { $"/v1/tenants/acme/connections/{id}", "/v1/tenants/acme/connections" })
        {
            using var answer = await intruder.GetAsync(new Uri(path, UriKind.Relative));
            Assert.Equal(HttpStatusCode.NotFound, answer.StatusCode);
            Assert.DoesNotContain("u-42", await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var own = await intruder.GetAsync(new Uri($"/v1/tenants/other/connections/{id}", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NotFound, own.StatusCode);
        }

        using (var otherList = await intruder.GetAsync(new Uri("/v1/tenants/other/connections?state=all", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.OK, otherList.StatusCode);
            Assert.DoesNotContain("u-42", await otherList.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Closed, the connection is read from its stored row: the metadata is kept there too.
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        var closed = await silo.WaitForConnectionAsync("acme", c => c.Id == id, state: "closed");
        Assert.Equal(expected, closed.Metadata);

        Assert.Empty(await silo.Silo.CheckExchangesAsync());
    }

    [Fact]
    public async Task Connect_MetadataBreaksTheRules_AnswerRefusedAndNothingReachesTheDirectory()
    {
        await using var receiver = await WebhookReceiver.StartAsync(Secret);
        await using var silo = await SiloFixture.StartAsync();
        // connectDefault accept: the refused answer still lets the client in, so the directory can be checked.
        await silo.CreateTenantAsync("acme", Hooked(receiver, WebhookConnectDefaults.Accept));
        await silo.CreateTenantAsync("strict", Hooked(receiver));
        await using var gateway = await silo.StartGatewayAsync();
        await gateway.WaitForTenantAsync("acme");
        await gateway.WaitForTenantAsync("strict");

        var tooMany = Enumerable.Range(0, ConnectionMetadata.MaxEntries + 1).ToDictionary(i => $"k{i}", i => "v");
        string[] answers =
        [
            JsonSerializer.Serialize(new { metadata = tooMany }),
            JsonSerializer.Serialize(new { metadata = new Dictionary<string, string> { ["big"] = new string('x', ConnectionMetadata.MaxValueLength + 1) } }),
            JsonSerializer.Serialize(new { metadata = new Dictionary<string, string> { [new string('k', ConnectionMetadata.MaxKeyLength + 1)] = "v" } }),
            JsonSerializer.Serialize(new { metadata = new Dictionary<string, string> { ["nul"] = "a\u0000b" } }),
            JsonSerializer.Serialize(new { metadata = new Dictionary<string, string> { ["line"] = "a\nb" } }),
            JsonSerializer.Serialize(new { metadata = new Dictionary<string, string> { ["user id"] = "u-42" } }),
            """{"metadata":{"n":42}}""",
            """{"metadata":["user","u-42"]}""",
            """{"metadata":{"user":"u-1","user":"u-2"}}""",
        ];
        var ids = new List<string>();
        var clients = new List<ClientWebSocket>();
        try
        {
            foreach (var body in answers)
            {
                receiver.Answer = _ => Task.FromResult<(int, string?, string?)>((200, body, null));
                Assert.Equal(503, (await RawHttp.UpgradeAsync(gateway.WsEndPoint, "strict.platform.test", "/")).Status);
                _ = await receiver.NextAsync("connect");
                clients.Add(await WsClient.ConnectAsync(gateway.WsUri("acme")));
                ids.Add((await receiver.NextAsync("connect")).Json.GetProperty("connectionId").GetString()!);
            }

            // Every connection is listed, none with metadata; the largest value the rules allow still passes.
            receiver.Answer = _ => Answer(new { metadata = new Dictionary<string, string> { [new string('k', ConnectionMetadata.MaxKeyLength)] = new string('v', ConnectionMetadata.MaxValueLength) } });
            clients.Add(await WsClient.ConnectAsync(gateway.WsUri("acme")));
            var largest = (await receiver.NextAsync("connect")).Json.GetProperty("connectionId").GetString()!;
            var listed = await silo.WaitForConnectionAsync("acme", c => c.Id == largest);
            Assert.Equal(new string('v', ConnectionMetadata.MaxValueLength), Assert.Single(listed.Metadata!).Value);
            foreach (var id in ids)
            {
                var connection = await silo.WaitForConnectionAsync("acme", c => c.Id == id);
                Assert.Null(connection.Metadata);
            }

            using var page = await silo.Operator.GetAsync(new Uri("/v1/tenants/acme/connections", UriKind.Relative));
            var text = await page.Content.ReadAsStringAsync();
            Assert.DoesNotContain("u-42", text, StringComparison.Ordinal);
            Assert.DoesNotContain(new string('x', ConnectionMetadata.MaxValueLength + 1), text, StringComparison.Ordinal);
            Assert.Empty(await silo.Silo.CheckExchangesAsync());
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    private static Task<(int, string?, string?)> Answer(object body) =>
        Task.FromResult<(int, string?, string?)>((200, JsonSerializer.Serialize(body), null));

    private static async Task<string> CreateKeyAsync(SiloFixture silo, string slug)
    {
        using var response = await silo.Operator.PostAsJsonAsync(new Uri($"/v1/tenants/{slug}/api-keys", UriKind.Relative), new CreateApiKeyRequest("metadata test"), PlatformJson.Options);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<CreatedApiKeyResponse>(PlatformJson.Options))!.Secret;
    }

    private static TenantConfig Hooked(WebhookReceiver receiver, string connectDefault = WebhookConnectDefaults.Reject) => new()
    {
        Delivery = new DeliveryConfig
        {
            Mode = DeliveryModes.Webhook,
            Webhook = new WebhookConfig { Url = receiver.Url, Secret = Secret, TimeoutSeconds = 5, ConnectDefault = connectDefault },
        },
    };
}
