using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Core.Internal;
using Platform.Cluster;
using Platform.Contracts;
using Platform.Contracts.Connections;
using Platform.Contracts.Internal;
using Platform.Contracts.Problems;
using Platform.Contracts.Tenants;
using Platform.Silo.Gateways.Nodes;
using Platform.Silo.Tests.Gateways;
using Platform.Silo.Tests.Internal;
using Platform.Testing;

namespace Platform.Silo.Tests.Connections;

public sealed class ConnectionsApiTests
{
    [Fact]
    public async Task SendMessage_OpenConnection_ReachesOwningGatewaysObserverOnly()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        using var gateway = silo.NewGateway();
        using var other = silo.NewGateway();
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-1", gateway);
        await silo.RegisterGatewayAsync("gw-2", other);
        await OpenAsync(silo, "gw-1", "gw-1.1f", tenantId);

        var response = await silo.OperatorClient().PostAsJsonAsync("/v1/tenants/acme/connections/gw-1.1f/messages", new SendMessageRequest(Text: "hello"), PlatformJson.Options);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(new SendCommand("gw-1.1f", new SendMessageRequest(Text: "hello")), Assert.Single(gateway.Received));
        Assert.Empty(other.Received);
    }

    [Fact]
    public async Task Disconnect_OpenConnection_ReachesGatewayAndIsAudited()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        using var gateway = silo.NewGateway();
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-1", gateway);
        await OpenAsync(silo, "gw-1", "gw-1.2", tenantId);
        var key = await InternalTestFixture.InsertTenantKeyAsync(silo, tenantId);

        var response = await silo.ClientWith(key).PostAsJsonAsync("/v1/tenants/acme/connections/gw-1.2/disconnect", new DisconnectRequest(4001, "maintenance"), PlatformJson.Options);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(new DisconnectCommand("gw-1.2", new DisconnectRequest(4001, "maintenance")), Assert.Single(gateway.Received));
        Assert.Equal(1L, await InternalTestFixture.QueryScalarAsync<long>(silo,
            "SELECT count(*) FROM audit_log WHERE action = 'connection.disconnect' AND target = 'gw-1.2' AND tenant_id = @tenantId AND actor LIKE 'api-key:%'", new { tenantId }));
    }

    [Fact]
    public async Task Broadcast_TenantOnTwoGateways_FansOutAndSumsDelivered()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        using var one = silo.NewGateway();
        using var two = silo.NewGateway();
        using var idle = silo.NewGateway();
        one.BroadcastDelivered = 3;
        two.BroadcastDelivered = 4;
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-1", one);
        await silo.RegisterGatewayAsync("gw-2", two);
        await silo.RegisterGatewayAsync("gw-3", idle);
        await OpenAsync(silo, "gw-1", "gw-1.1", tenantId);
        await OpenAsync(silo, "gw-2", "gw-2.1", tenantId);

        var response = await silo.OperatorClient().PostAsJsonAsync("/v1/tenants/acme/broadcast", new SendMessageRequest(Binary: "AQID"), PlatformJson.Options);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(new BroadcastResponse(7, 2), await response.Content.ReadFromJsonAsync<BroadcastResponse>(PlatformJson.Options));
        var command = new BroadcastCommand(tenantId, new SendMessageRequest(Binary: "AQID"));
        Assert.Equal(command, Assert.Single(one.Received));
        Assert.Equal(command, Assert.Single(two.Received));
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
    public async Task Commands_GatewayThrowsOrIsGone_Answer503GatewayUnavailable()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        using var failing = silo.NewGateway();
        failing.Failure = new InvalidOperationException("the gateway's command handler failed");
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-1", failing);
        await OpenAsync(silo, "gw-1", "gw-1.1", tenantId);

        var failed = await silo.OperatorClient().PostAsJsonAsync("/v1/tenants/acme/connections/gw-1.1/messages", new SendMessageRequest(Text: "hi"), PlatformJson.Options);
        var broadcast = await silo.OperatorClient().PostAsJsonAsync("/v1/tenants/acme/broadcast", new SendMessageRequest(Text: "hi"), PlatformJson.Options);
        // The gateway's cluster client drops the observer, as a gateway that stopped without leaving.
        failing.Dispose();
        var gone = await silo.OperatorClient().PostAsJsonAsync("/v1/tenants/acme/connections/gw-1.1/disconnect", new DisconnectRequest(), PlatformJson.Options);

        await AssertProblemAsync(failed, HttpStatusCode.ServiceUnavailable, "gateway_unavailable");
        await AssertProblemAsync(broadcast, HttpStatusCode.ServiceUnavailable, "gateway_unavailable");
        await AssertProblemAsync(gone, HttpStatusCode.ServiceUnavailable, "gateway_unavailable");
        Assert.Equal(2, failing.Received.Count);
        Assert.Equal(0L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT count(*) FROM audit_log WHERE action = 'connection.disconnect'"));
    }

    [Fact]
    public async Task Commands_GatewayDoesNotAnswerWithinCommandTimeout_Answer503GatewayUnavailable()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        using var silent = silo.NewGateway();
        silent.Silent = true;
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-1", silent);
        await OpenAsync(silo, "gw-1", "gw-1.1", tenantId);

        var stopwatch = Stopwatch.StartNew();
        var send = await silo.OperatorClient().PostAsJsonAsync("/v1/tenants/acme/connections/gw-1.1/messages", new SendMessageRequest(Text: "hi"), PlatformJson.Options);
        var elapsed = stopwatch.Elapsed;

        await AssertProblemAsync(send, HttpStatusCode.ServiceUnavailable, "gateway_unavailable");
        Assert.IsType<SendCommand>(Assert.Single(silent.Received));
        // Not before the timeout, and well before Orleans' own 30 s response timeout.
        Assert.InRange(elapsed, GatewayGrain.CommandTimeout - TimeSpan.FromMilliseconds(100), GatewayGrain.CommandTimeout + TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task Commands_NoRegistrationOrHeartbeatReachedTheActivation_Answer503UntilTheNextHeartbeat()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        using var gateway = silo.NewGateway();
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-1", gateway);
        await OpenAsync(silo, "gw-1", "gw-1.1", tenantId);
        // The node's grain is deactivated (idle, or moved): the new activation reads the row, live, but knows no observer.
        var grains = silo.Services.GetRequiredService<IGrainFactory>();
        await grains.GetGrain<IGatewayGrain>("gw-1").Cast<IGrainManagementExtension>().DeactivateOnIdle();

        var before = await silo.OperatorClient().PostAsJsonAsync("/v1/tenants/acme/connections/gw-1.1/messages", new SendMessageRequest(Text: "lost"), PlatformJson.Options);
        Assert.NotNull(await silo.HeartbeatAsync("gw-1"));
        var after = await silo.OperatorClient().PostAsJsonAsync("/v1/tenants/acme/connections/gw-1.1/messages", new SendMessageRequest(Text: "found"), PlatformJson.Options);

        await AssertProblemAsync(before, HttpStatusCode.ServiceUnavailable, "gateway_unavailable");
        Assert.Equal(HttpStatusCode.Accepted, after.StatusCode);
        Assert.Equal(new SendCommand("gw-1.1", new SendMessageRequest(Text: "found")), Assert.Single(gateway.Received));
    }

    [Fact]
    public async Task Commands_GatewayFindsTheCommandInvalid_Answer400WithTheGatewaysFieldErrors()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        using var gateway = silo.NewGateway();
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-1", gateway);
        await OpenAsync(silo, "gw-1", "gw-1.1", tenantId);
        gateway.Answer = GatewayCommandAnswer.Invalid(new FieldError("binary", FieldErrorCodes.TooLong, "A DTLS datagram carries at most 1200 bytes."));

        var send = await silo.OperatorClient().PostAsJsonAsync("/v1/tenants/acme/connections/gw-1.1/messages", new SendMessageRequest(Binary: "AQID"), PlatformJson.Options);
        var disconnect = await silo.OperatorClient().PostAsJsonAsync("/v1/tenants/acme/connections/gw-1.1/disconnect", new DisconnectRequest(), PlatformJson.Options);
        // An invalid answer that names no field says nothing the caller could fix: the gateway did not take the command.
        gateway.Answer = GatewayCommandAnswer.Invalid();
        var unexplained = await silo.OperatorClient().PostAsJsonAsync("/v1/tenants/acme/connections/gw-1.1/messages", new SendMessageRequest(Binary: "AQID"), PlatformJson.Options);

        foreach (var response in new[] { send, disconnect })
        {
            var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed");
            var error = Assert.Single(problem.GetProperty("errors").EnumerateArray());
            Assert.Equal(("binary", FieldErrorCodes.TooLong, "A DTLS datagram carries at most 1200 bytes."),
                (error.GetProperty("field").GetString(), error.GetProperty("code").GetString(), error.GetProperty("message").GetString()));
        }

        await AssertProblemAsync(unexplained, HttpStatusCode.ServiceUnavailable, "gateway_unavailable");
        Assert.Equal(0L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT count(*) FROM audit_log WHERE action = 'connection.disconnect'"));
    }

    [Fact]
    public async Task Commands_UnknownClosedOrGoneConnection_Answer404ConnectionNotFound()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        using var gateway = silo.NewGateway();
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        await silo.RegisterGatewayAsync("gw-1", gateway);
        await OpenAsync(silo, "gw-1", "gw-1.1", tenantId);
        await OpenAsync(silo, "gw-1", "gw-1.2", tenantId);
        Assert.True(await silo.SendEventsAsync("gw-1", new ConnectionEventBatch([], [],
            [new ConnectionClosed(new ConnectionCounters("gw-1.2", 0, 0, 0, 0, DateTimeOffset.UtcNow), DateTimeOffset.UtcNow, 1000, null)])));
        gateway.GoneConnections["gw-1.1"] = true;

        foreach (var id in new[] { "gw-1.99", "not-an-id", "gw-1.2", "gw-1.1" })
        {
            var response = await silo.OperatorClient().PostAsJsonAsync($"/v1/tenants/acme/connections/{id}/messages", new SendMessageRequest(Text: "hi"), PlatformJson.Options);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Contains("\"code\":\"connection_not_found\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var disconnect = await silo.OperatorClient().PostAsJsonAsync("/v1/tenants/acme/connections/gw-1.1/disconnect", new DisconnectRequest(), PlatformJson.Options);
        await AssertProblemAsync(disconnect, HttpStatusCode.NotFound, "connection_not_found");
        Assert.Equal(HttpStatusCode.NotFound, (await silo.OperatorClient().GetAsync(new Uri("/v1/tenants/acme/connections/gw-1.99", UriKind.Relative))).StatusCode);
        Assert.Equal([new SendCommand("gw-1.1", new SendMessageRequest(Text: "hi")), new DisconnectCommand("gw-1.1", new DisconnectRequest())], gateway.Received);
    }

    [Fact]
    public async Task Connections_OtherTenantsConnection_Answer404AndNothingIsSent()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        using var gateway = silo.NewGateway();
        var acme = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        var beta = await InternalTestFixture.InsertTenantRowsAsync(silo, "beta");
        await silo.RegisterGatewayAsync("gw-1", gateway);
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
        Assert.True(await silo.SendEventsAsync("gw-1", new ConnectionEventBatch(
            [InternalTestFixture.Opened("gw-1.1", tenantId).Ws(at), InternalTestFixture.Opened("gw-1.2", tenantId).Ws(at.AddSeconds(1)) with { Protocol = "tcp", RemoteAddress = "198.51.100.7" }], [], [])));
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
        Assert.True(await silo.SendEventsAsync(gatewayId, new ConnectionEventBatch([InternalTestFixture.Opened(connectionId, tenantId).Ws()], [], [])));

    private static async Task<JsonElement> AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"{response.StatusCode}: {body}");
        var problem = JsonSerializer.Deserialize<JsonElement>(body);
        Assert.Equal(code, problem.GetProperty("code").GetString());
        return problem;
    }
}
