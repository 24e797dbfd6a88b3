using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Platform.Cluster;
using Platform.Contracts;
using Platform.Contracts.Internal;
using Platform.Contracts.Problems;
using Platform.Silo.Tests.Internal;
using Platform.Testing;

namespace Platform.Silo.Tests.Gateways.Link;

/// <summary>
/// The grain gateways call, through a real silo over PostgreSQL: what it refuses (the old internal API's 400s, now
/// <see cref="GatewayRequestRejectedException"/>) stores nothing, and the internal HTTP API it replaces is gone.
/// </summary>
public sealed class GatewayLinkGrainTests
{
    public static TheoryData<string, RegisterGatewayRequest, string, string> InvalidRegistrations => new()
    {
        { "GW_1", new RegisterGatewayRequest("GW_1", "1.0.0", ["ws:8080"]), "nodeId", FieldErrorCodes.InvalidFormat },
        { "gw-1.2", new RegisterGatewayRequest("gw-1.2", "1.0.0", ["ws:8080"]), "nodeId", FieldErrorCodes.InvalidFormat },
        { new string('g', 41), new RegisterGatewayRequest(new string('g', 41), "1.0.0", ["ws:8080"]), "nodeId", FieldErrorCodes.InvalidFormat },
        { "gw-1", new RegisterGatewayRequest("gw-1", "", ["ws:8080"]), "version", FieldErrorCodes.Required },
        { "gw-1", new RegisterGatewayRequest("gw-1", "  ", ["ws:8080"]), "version", FieldErrorCodes.Required },
        { "gw-1", new RegisterGatewayRequest("gw-1", new string('1', 101), ["ws:8080"]), "version", FieldErrorCodes.Required },
        { "gw-1", new RegisterGatewayRequest("gw-1", "1.0.0", [.. Enumerable.Range(0, 65).Select(i => $"ws:{8000 + i}")]), "listeners", FieldErrorCodes.InvalidFormat },
        { "gw-1", new RegisterGatewayRequest("gw-1", "1.0.0", ["ws:8080", " "]), "listeners", FieldErrorCodes.InvalidFormat },
        { "gw-1", new RegisterGatewayRequest("gw-1", "1.0.0", [new string('w', 101)]), "listeners", FieldErrorCodes.InvalidFormat },
        // Sent to another node's grain: the grain's key is the node id every later call is stored under.
        { "gw-1", new RegisterGatewayRequest("gw-2", "1.0.0", ["ws:8080"]), "nodeId", FieldErrorCodes.InvalidFormat },
    };

    [Theory]
    [MemberData(nameof(InvalidRegistrations))]
    public async Task Register_InvalidField_RejectedNamingItAndNothingStored(string key, RegisterGatewayRequest request, string field, string code)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        using var gateway = silo.NewGateway();

        var rejected = await Assert.ThrowsAsync<GatewayRequestRejectedException>(() => silo.Link(key).RegisterAsync(request, gateway.Reference));

        var error = Assert.Single(rejected.Errors);
        Assert.Equal((field, code), (error.Field, error.Code));
        Assert.Equal(0L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT count(*) FROM gateway_nodes"));
    }

    [Fact]
    public async Task Register_NodeIdOfAnotherGrain_NeitherNodeRegisteredNorReachable()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        using var gateway = silo.NewGateway();

        await Assert.ThrowsAsync<GatewayRequestRejectedException>(() =>
            silo.Link("gw-1").RegisterAsync(new RegisterGatewayRequest("gw-2", "1.0.0", ["ws:8080"]), gateway.Reference));

        // Neither id is live: both must register under their own key first.
        Assert.Null(await silo.Link("gw-1").HeartbeatAsync(new HeartbeatRequest(0, 0), gateway.Reference));
        Assert.Null(await silo.Link("gw-2").HeartbeatAsync(new HeartbeatRequest(0, 0), gateway.Reference));
        Assert.Equal(0L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT count(*) FROM gateway_nodes"));
    }

    [Fact]
    public async Task RegisterAndHeartbeat_WithoutObserver_Rejected()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        await Assert.ThrowsAsync<ArgumentNullException>(() =>
            silo.Link("gw-1").RegisterAsync(new RegisterGatewayRequest("gw-1", "1.0.0", ["ws:8080"]), null!));
        await silo.RegisterGatewayAsync("gw-1");
        await Assert.ThrowsAsync<ArgumentNullException>(() => silo.Link("gw-1").HeartbeatAsync(new HeartbeatRequest(5, 5), null!));

        Assert.Equal(0L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT config_revision FROM gateway_nodes WHERE id = 'gw-1'"));
    }

    [Theory]
    [InlineData(-1, 0, "configRevision")]
    [InlineData(0, -1, "openConnections")]
    public async Task Heartbeat_NegativeCount_RejectedNamingItAndNothingStored(long revision, long open, string field)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await silo.RegisterGatewayAsync("gw-1");
        Assert.NotNull(await silo.HeartbeatAsync("gw-1", revision: 7, open: 3));

        var rejected = await Assert.ThrowsAsync<GatewayRequestRejectedException>(() => silo.HeartbeatAsync("gw-1", revision, open));

        var error = Assert.Single(rejected.Errors);
        Assert.Equal((field, FieldErrorCodes.OutOfRange), (error.Field, error.Code));
        Assert.Equal("7 3", await InternalTestFixture.QueryScalarAsync<string>(silo,
            "SELECT config_revision || ' ' || open_connections FROM gateway_nodes WHERE id = 'gw-1'"));
    }

    [Fact]
    public async Task InternalRoutes_AnyCaller_NotFoundForKeysAndTheClusterSecretIsNoCredential()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenantId = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme");
        var tenantKey = await InternalTestFixture.InsertTenantKeyAsync(silo, tenantId);
        await silo.RegisterGatewayAsync("gw-1");
        // The cluster secret opened these routes; now it is an unknown bearer like any other, and the API keys that are
        // valid find no such route.
        var callers = new (string Name, HttpClient Client, HttpStatusCode Status, string Code)[]
        {
            ("operator key", silo.OperatorClient(), HttpStatusCode.NotFound, ErrorCodes.NotFound),
            ("tenant key", silo.ClientWith(tenantKey), HttpStatusCode.NotFound, ErrorCodes.NotFound),
            ("cluster secret", silo.ClientWith("cs_" + Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16))), HttpStatusCode.Unauthorized, ErrorCodes.Unauthenticated),
            ("no credentials", silo.AnonymousClient(), HttpStatusCode.Unauthorized, ErrorCodes.Unauthenticated),
        };
        var requests = new (HttpMethod Method, string Path, object? Body)[]
        {
            (HttpMethod.Post, "/internal/v1/gateways/register", new RegisterGatewayRequest("gw-2", "1.0.0", ["ws:8080"])),
            (HttpMethod.Post, "/internal/v1/gateways/gw-1/heartbeat", new HeartbeatRequest(0, 0)),
            (HttpMethod.Post, "/internal/v1/gateways/gw-1/leave", null),
            (HttpMethod.Post, "/internal/v1/gateways/gw-1/leases", new LeaseSyncRequest([new LeaseWant(tenantId, 5)])),
            (HttpMethod.Post, "/internal/v1/gateways/gw-1/connection-events", new ConnectionEventBatch([], [], [])),
            (HttpMethod.Get, "/internal/v1/config/watch?after=0&waitSeconds=0", null),
        };

        foreach (var (name, client, status, code) in callers)
        {
            foreach (var (method, path, body) in requests)
            {
                using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative))
                {
                    Content = body is null ? null : JsonContent.Create(body, body.GetType(), options: PlatformJson.Options),
                };
                using var response = await client.SendAsync(request);
                var text = await response.Content.ReadAsStringAsync();
                Assert.True(status == response.StatusCode, $"{name}: {method} {path}: {(int)response.StatusCode} {text}");
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                Assert.Equal(code, JsonSerializer.Deserialize<JsonElement>(text).GetProperty("code").GetString());
            }
        }

        // Nothing reached the state behind them: the node is still up, nothing leased, left or registered.
        Assert.Equal("gw-1 up", await InternalTestFixture.QueryScalarAsync<string>(silo, "SELECT string_agg(id || ' ' || status, ',') FROM gateway_nodes"));
        Assert.Equal(0L, await InternalTestFixture.QueryScalarAsync<long>(silo, "SELECT count(*) FROM quota_leases"));
    }
}
