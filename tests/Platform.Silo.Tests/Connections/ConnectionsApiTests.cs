using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Platform.Contracts;
using Platform.Contracts.Connections;
using Platform.Contracts.Internal;
using Platform.Contracts.Tenants;
using Platform.Silo.Tests.Gateways;
using Platform.Silo.Tests.Internal;
using Platform.Testing;

namespace Platform.Silo.Tests.Connections;

public sealed class ConnectionsApiTests
{
    [Fact]
    public async Task SendMessage_OpenConnection_ReachesOwningGatewayWithClusterSecret()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await using var gateway = await FakeGateway.StartAsync();
        await using var other = await FakeGateway.StartAsync();
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-1", gateway.Url);
        await silo.RegisterGatewayAsync("gw-2", other.Url);
        await OpenAsync(silo, "gw-1", "gw-1.1f", tenantId);

        var response = await silo.OperatorClient().PostAsJsonAsync("/v1/tenants/acme/connections/gw-1.1f/messages", new SendMessageRequest(Text: "hello"), PlatformJson.Options);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var command = Assert.Single(gateway.Received);
        Assert.Equal("/internal/v1/connections/gw-1.1f/send", command.Path);
        Assert.Equal($"Bearer {silo.ClusterSecret}", command.Authorization);
        Assert.Equal("hello", JsonSerializer.Deserialize<SendMessageRequest>(command.Body, PlatformJson.Options)!.Text);
        Assert.Empty(other.Received);
    }

    [Fact]
    public async Task Disconnect_OpenConnection_ReachesGatewayAndIsAudited()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await using var gateway = await FakeGateway.StartAsync();
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-1", gateway.Url);
        await OpenAsync(silo, "gw-1", "gw-1.2", tenantId);
        var key = await InternalTestFixture.InsertTenantKeyAsync(silo, tenantId);

        var response = await silo.ClientWith(key).PostAsJsonAsync("/v1/tenants/acme/connections/gw-1.2/disconnect", new DisconnectRequest(4001, "maintenance"), PlatformJson.Options);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var command = Assert.Single(gateway.Received);
        Assert.Equal("/internal/v1/connections/gw-1.2/disconnect", command.Path);
        Assert.Equal(new DisconnectRequest(4001, "maintenance"), JsonSerializer.Deserialize<DisconnectRequest>(command.Body, PlatformJson.Options));
        Assert.Equal(1L, await InternalTestFixture.QueryScalarAsync<long>(silo,
            "SELECT count(*) FROM audit_log WHERE action = 'connection.disconnect' AND target = 'gw-1.2' AND tenant_id = @tenantId AND actor LIKE 'api-key:%'", new { tenantId }));
    }

    [Fact]
    public async Task Broadcast_TenantOnTwoGateways_FansOutAndSumsDelivered()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await using var one = await FakeGateway.StartAsync();
        await using var two = await FakeGateway.StartAsync();
        await using var idle = await FakeGateway.StartAsync();
        one.BroadcastDelivered = 3;
        two.BroadcastDelivered = 4;
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-1", one.Url);
        await silo.RegisterGatewayAsync("gw-2", two.Url);
        await silo.RegisterGatewayAsync("gw-3", idle.Url);
        await OpenAsync(silo, "gw-1", "gw-1.1", tenantId);
        await OpenAsync(silo, "gw-2", "gw-2.1", tenantId);

        var response = await silo.OperatorClient().PostAsJsonAsync("/v1/tenants/acme/broadcast", new SendMessageRequest(Binary: "AQID"), PlatformJson.Options);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(new BroadcastResponse(7, 2), await response.Content.ReadFromJsonAsync<BroadcastResponse>(PlatformJson.Options));
        Assert.Equal($"/internal/v1/tenants/{tenantId}/broadcast", Assert.Single(one.Received).Path);
        Assert.Equal($"Bearer {silo.ClusterSecret}", Assert.Single(two.Received).Authorization);
        Assert.Empty(idle.Received);
    }

    [Fact]
    public async Task Commands_NoGatewayRunning_Answer503NoGateway()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");

        var broadcast = await silo.OperatorClient().PostAsJsonAsync("/v1/tenants/acme/broadcast", new SendMessageRequest(Text: "hi"), PlatformJson.Options);
        await silo.RegisterGatewayAsync("gw-1");
        await OpenAsync(silo, "gw-1", "gw-1.1", tenantId);
        await InternalTestFixture.ExecuteAsync(silo, "UPDATE gateway_nodes SET status = 'dead', dead_at = now() WHERE id = 'gw-1'");
        var send = await silo.OperatorClient().PostAsJsonAsync("/v1/tenants/acme/connections/gw-1.1/messages", new SendMessageRequest(Text: "hi"), PlatformJson.Options);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, broadcast.StatusCode);
        Assert.Contains("\"code\":\"no_gateway\"", await broadcast.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, send.StatusCode);
        var body = await send.Content.ReadAsStringAsync();
        Assert.Contains("\"code\":\"no_gateway\"", body, StringComparison.Ordinal);
        Assert.Contains("gw-1", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Commands_GatewayFailsOrUnreachable_Answer503GatewayUnavailable()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await using var failing = await FakeGateway.StartAsync();
        failing.CommandStatus = 500;
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-1", failing.Url);
        await OpenAsync(silo, "gw-1", "gw-1.1", tenantId);

        var refused = await silo.OperatorClient().PostAsJsonAsync("/v1/tenants/acme/connections/gw-1.1/messages", new SendMessageRequest(Text: "hi"), PlatformJson.Options);
        await failing.DisposeAsync();
        var unreachable = await silo.OperatorClient().PostAsJsonAsync("/v1/tenants/acme/connections/gw-1.1/disconnect", new DisconnectRequest(), PlatformJson.Options);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Contains("\"code\":\"gateway_unavailable\"", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, unreachable.StatusCode);
        Assert.Contains("\"code\":\"gateway_unavailable\"", await unreachable.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT count(*) FROM audit_log WHERE action = 'connection.disconnect'"));
    }

    [Fact]
    public async Task Commands_UnknownClosedOrGoneConnection_Answer404ConnectionNotFound()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await using var gateway = await FakeGateway.StartAsync();
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-1", gateway.Url);
        await OpenAsync(silo, "gw-1", "gw-1.1", tenantId);
        await OpenAsync(silo, "gw-1", "gw-1.2", tenantId);
        (await silo.SendEventsAsync("gw-1", new ConnectionEventBatch([], [],
            [new ConnectionClosed(new ConnectionCounters("gw-1.2", 0, 0, 0, 0, DateTimeOffset.UtcNow), DateTimeOffset.UtcNow, 1000, null)]))).EnsureSuccessStatusCode();
        gateway.GoneConnections["gw-1.1"] = true;

        foreach (var id in new[] { "gw-1.99", "not-an-id", "gw-1.2", "gw-1.1" })
        {
            var response = await silo.OperatorClient().PostAsJsonAsync($"/v1/tenants/acme/connections/{id}/messages", new SendMessageRequest(Text: "hi"), PlatformJson.Options);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Contains("\"code\":\"connection_not_found\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.NotFound, (await silo.OperatorClient().GetAsync(new Uri("/v1/tenants/acme/connections/gw-1.99", UriKind.Relative))).StatusCode);
        Assert.Single(gateway.Received);
    }

    [Fact]
    public async Task Connections_OtherTenantsConnection_Answer404AndNothingIsSent()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await using var gateway = await FakeGateway.StartAsync();
        var acme = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        var beta = await InternalTestFixture.InsertTenantRowsAsync(silo, "beta");
        await silo.RegisterGatewayAsync("gw-1", gateway.Url);
        await OpenAsync(silo, "gw-1", "gw-1.b", beta);
        var acmeKey = await InternalTestFixture.InsertTenantKeyAsync(silo, acme);
        var client = silo.ClientWith(acmeKey);

        var viaOwnSlug = await client.PostAsJsonAsync("/v1/tenants/acme/connections/gw-1.b/messages", new SendMessageRequest(Text: "x"), PlatformJson.Options);
        var viaOtherSlug = await client.PostAsJsonAsync("/v1/tenants/beta/connections/gw-1.b/disconnect", new DisconnectRequest(), PlatformJson.Options);
        var get = await client.GetAsync(new Uri("/v1/tenants/acme/connections/gw-1.b", UriKind.Relative));
        var list = await client.GetAsync(new Uri("/v1/tenants/beta/connections", UriKind.Relative));
        var own = await client.GetFromJsonAsync<Page<ConnectionResponse>>("/v1/tenants/acme/connections", PlatformJson.Options);

        Assert.Equal(HttpStatusCode.NotFound, viaOwnSlug.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, viaOtherSlug.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, list.StatusCode);
        Assert.Empty(own!.Items);
        Assert.Empty(gateway.Received);
    }

    [Theory]
    [InlineData("{\"text\":\"a\",\"binary\":\"AA==\"}", "text")]
    [InlineData("{}", "text")]
    [InlineData("{\"binary\":\"not base64!\"}", "binary")]
    public async Task SendMessage_InvalidBody_Answers400NamingField(string body, string field)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");

        var response = await silo.OperatorClient().PostAsync(new Uri("/v1/tenants/acme/connections/gw-1.1/messages", UriKind.Relative),
            new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains($"\"field\":\"{field}\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1001, null, "code")]
    [InlineData(2999, null, "code")]
    [InlineData(5000, null, "code")]
    [InlineData(1000, "é", "reason")]
    public async Task Disconnect_InvalidCodeOrReason_Answers400NamingField(int code, string? reasonUnit, string field)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        // 62 two-byte characters are 124 bytes of UTF-8: one over the limit.
        var reason = reasonUnit is null ? null : string.Concat(Enumerable.Repeat(reasonUnit, 62));

        var response = await silo.OperatorClient().PostAsJsonAsync("/v1/tenants/acme/connections/gw-1.1/disconnect", new DisconnectRequest(code, reason), PlatformJson.Options);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains($"\"field\":\"{field}\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_FiltersAndPaging_SelectMatchingConnections()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-1");
        await silo.RegisterGatewayAsync("gw-2");
        var at = DateTimeOffset.UtcNow;
        (await silo.SendEventsAsync("gw-1", new ConnectionEventBatch(
            [InternalTestFixture.Opened("gw-1.1", tenantId).Ws(at), InternalTestFixture.Opened("gw-1.2", tenantId).Ws(at.AddSeconds(1)) with { Protocol = "tcp", RemoteAddress = "198.51.100.7" }], [], []))).EnsureSuccessStatusCode();
        await OpenAsync(silo, "gw-2", "gw-2.1", tenantId);

        var tcp = await silo.OperatorClient().GetFromJsonAsync<Page<ConnectionResponse>>("/v1/tenants/acme/connections?protocol=tcp", PlatformJson.Options);
        var byAddress = await silo.OperatorClient().GetFromJsonAsync<Page<ConnectionResponse>>("/v1/tenants/acme/connections?remoteAddress=198.51.100.7", PlatformJson.Options);
        var byGateway = await silo.OperatorClient().GetFromJsonAsync<Page<ConnectionResponse>>("/v1/tenants/acme/connections?gateway=gw-2", PlatformJson.Options);
        var page = await silo.OperatorClient().GetFromJsonAsync<Page<ConnectionResponse>>("/v1/tenants/acme/connections?offset=1&limit=1", PlatformJson.Options);
        var bad = await silo.OperatorClient().GetAsync(new Uri("/v1/tenants/acme/connections?state=maybe&limit=0", UriKind.Relative));

        Assert.Equal(["gw-1.2"], tcp!.Items.Select(c => c.Id));
        Assert.Equal(["gw-1.2"], byAddress!.Items.Select(c => c.Id));
        Assert.Equal(["gw-2.1"], byGateway!.Items.Select(c => c.Id));
        Assert.Equal((3L, 1, 1), (page!.Total, page.Offset, page.Items.Count));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var problem = await bad.Content.ReadAsStringAsync();
        Assert.Contains("\"field\":\"state\"", problem, StringComparison.Ordinal);
        Assert.Contains("\"field\":\"limit\"", problem, StringComparison.Ordinal);
    }

    private static async Task OpenAsync(SiloApp silo, string gatewayId, string connectionId, Guid tenantId) =>
        (await silo.SendEventsAsync(gatewayId, new ConnectionEventBatch([InternalTestFixture.Opened(connectionId, tenantId).Ws()], [], []))).EnsureSuccessStatusCode();
}
