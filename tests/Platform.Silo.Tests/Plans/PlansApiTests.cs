using System.Net;
using System.Text.Json;
using Dapper;
using Platform.Contracts.Config;
using Platform.Contracts.Internal;
using Platform.Contracts.Psk;
using Platform.Contracts.Tenants;
using Platform.Silo.Tests.Certificates;
using Platform.Silo.Tests.Internal;
using Platform.Silo.Tests.Tenants;
using Platform.Testing;
using static Platform.Silo.Tests.Plans.PlanTestClient;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.Plans;

public sealed class PlansApiTests
{
    [Fact]
    public async Task Get_OwnKey_ReturnsDefaultPlanAndWhatTheTenantHolds()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var op = silo.OperatorClient();
        var tenant = await CreateTenantAsync(op, "acme", new { hostNames = new[] { "a.example.com", "B.example.com" } });
        var other = await CreateTenantAsync(op, "bravo");
        var tenantClient = await TenantKeyFixture.ClientForAsync(silo, tenant.Id);
        Assert.Equal(HttpStatusCode.Created, (await op.PostAsync(Url("/v1/tenants/acme/ports"), Json(new AllocatePortRequest("tcp")))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await op.PostAsync(Url("/v1/tenants/acme/psk-identities"),
            Json(new CreatePskIdentityRequest("sensor-1", new string('a', 32))))).StatusCode);
        // Names counted once each whatever their case and source; the tenant's own name under the platform domain is free.
        using var certificate = TestCertificates.Create(DateTimeOffset.UtcNow, ["b.example.com", "c.example.com", "acme.platform.test"]);
        Assert.Equal(HttpStatusCode.Created, (await op.PostAsync(Url("/v1/tenants/acme/certificates"), Json(new { pem = TestCertificates.Pem(certificate) }))).StatusCode);

        var response = await tenantClient.GetAsync(Url("/v1/tenants/acme/plan"));
        var foreign = await tenantClient.GetAsync(Url("/v1/tenants/bravo/plan"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var plan = body.RootElement.GetProperty("plan");
        Assert.Equal(
            (1000, 1000, 1_048_576, 256, 5, 10, 1000, 10, 10),
            (plan.GetProperty("maxConnections").GetInt32(), plan.GetProperty("connectionsPerSecond").GetInt32(), plan.GetProperty("maxMessageSize").GetInt32(),
                plan.GetProperty("maxHalfOpenHandshakes").GetInt32(), plan.GetProperty("dedicatedPorts").GetInt32(), plan.GetProperty("certificates").GetInt32(),
                plan.GetProperty("pskIdentities").GetInt32(), plan.GetProperty("apiKeys").GetInt32(), plan.GetProperty("hostNames").GetInt32()));
        var usage = body.RootElement.GetProperty("usage");
        Assert.Equal(
            (1, 1, 1, 1, 3),
            (usage.GetProperty("dedicatedPorts").GetInt32(), usage.GetProperty("certificates").GetInt32(), usage.GetProperty("pskIdentities").GetInt32(),
                usage.GetProperty("apiKeys").GetInt32(), usage.GetProperty("hostNames").GetInt32()));
        await AssertProblemAsync(foreign, HttpStatusCode.NotFound, "not_found");
        Assert.NotEqual(other.Id, tenant.Id);
    }

    [Fact]
    public async Task Replace_TenantKey_Returns403AndKeepsThePlan()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenant = await CreateTenantAsync(silo.OperatorClient(), "acme");
        var tenantClient = await TenantKeyFixture.ClientForAsync(silo, tenant.Id);

        var response = await tenantClient.PutAsync(Url("/v1/tenants/acme/plan"), Json(new { maxConnections = 100_000 }));

        await AssertProblemAsync(response, HttpStatusCode.Forbidden, "forbidden");
        var plan = await tenantClient.GetStringAsync(Url("/v1/tenants/acme/plan"));
        Assert.Contains("\"maxConnections\":1000,", plan, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replace_Operator_AuditsBumpsRevisionAndGatewaysGetCappedValuesWhileGetConfigKeepsTheTenants()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var op = silo.OperatorClient();
        var tenant = await CreateTenantAsync(op, "acme", new
        {
            limits = new { maxConnections = 500, maxHalfOpenHandshakes = 200, maxHalfOpenHandshakesPerClient = 16 },
            webSocket = new { maxMessageSize = 1_000_000 },
            framing = new { mode = "record", recordLength = 70_000 },
        });
        var cursor = (await silo.WatchAsync(0)).Revision;

        var response = await op.PutAsync(Url("/v1/tenants/acme/plan"),
            Json(new { maxConnections = 100, connectionsPerSecond = 50, maxMessageSize = 65_536, maxHalfOpenHandshakes = 10, dedicatedPorts = 1 }));

        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        using (var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()))
        {
            Assert.Equal(100, body.RootElement.GetProperty("plan").GetProperty("maxConnections").GetInt32());
            Assert.Equal(10, body.RootElement.GetProperty("plan").GetProperty("certificates").GetInt32());
        }

        var watched = await silo.WatchAsync(cursor);
        var limits = Assert.Single(watched.Tenants).Config;
        Assert.Equal((100, 50, 10, 10), (limits.Limits.MaxConnections, limits.Limits.ConnectionsPerSecond, limits.Limits.MaxHalfOpenHandshakes, limits.Limits.MaxHalfOpenHandshakesPerClient));
        Assert.Equal((65_536, 2048, 65_536), (limits.WebSocket.MaxMessageSize, limits.Framing.MaxLineLength, limits.Framing.RecordLength));
        var own = (await ReadAsync<ConfigResponse>(await op.GetAsync(Url("/v1/tenants/acme/config"))))!.Config;
        Assert.Equal((500, 0, 200), (own.Limits.MaxConnections, own.Limits.ConnectionsPerSecond, own.Limits.MaxHalfOpenHandshakes));
        Assert.Equal((1_000_000, 70_000), (own.WebSocket.MaxMessageSize, own.Framing.RecordLength));

        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        var row = await connection.QuerySingleAsync<(long Revision, int MaxConnections)>("SELECT revision, max_connections FROM tenants WHERE id = @Id", new { tenant.Id });
        Assert.Equal((watched.Revision, 100), row);
        var audit = await connection.QuerySingleAsync<(string Actor, long Before, long After, string Details)>(
            "SELECT actor, revision_before, revision_after, details::text FROM audit_log WHERE tenant_id = @Id AND action = 'plan.replace'", new { tenant.Id });
        Assert.Equal(("operator", tenant.ConfigRevision, row.Revision), (audit.Actor, audit.Before, audit.After));
        Assert.Contains("\"maxConnections\": 1000", audit.Details, StringComparison.Ordinal);
        Assert.Contains("\"maxConnections\": 100,", audit.Details, StringComparison.Ordinal);

        // Raising the plan again gives the tenant its own values back: nothing was rewritten.
        await SetPlanAsync(op, "acme", new { });
        var restored = Assert.Single((await silo.WatchAsync(row.Revision)).Tenants).Config;
        Assert.Equal((500, 1000, 1_000_000, 70_000), (restored.Limits.MaxConnections, restored.Limits.ConnectionsPerSecond, restored.WebSocket.MaxMessageSize, restored.Framing.RecordLength));
        Assert.Equal(500, await connection.ExecuteScalarAsync<int>("SELECT max_connections FROM tenants WHERE id = @Id", new { tenant.Id }));
    }

    [Fact]
    public async Task Replace_LowerMaxConnections_LeaseGrantsFollowAtOnce()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var op = silo.OperatorClient();
        var tenant = await CreateTenantAsync(op, "acme", new { limits = new { maxConnections = 800 } });
        await silo.RegisterGatewayAsync("gw-a");
        await silo.RegisterGatewayAsync("gw-b");
        Assert.Equal(600, (await silo.SyncLeasesAsync("gw-a", new LeaseWant(tenant.Id, 600))).Leases[0].Slots);

        await SetPlanAsync(op, "acme", new { maxConnections = 700 });
        var b = await silo.SyncLeasesAsync("gw-b", new LeaseWant(tenant.Id, 600));
        await SetPlanAsync(op, "acme", new { maxConnections = 1 });
        var bLowered = await silo.SyncLeasesAsync("gw-b", new LeaseWant(tenant.Id, 600));
        var aLowered = await silo.SyncLeasesAsync("gw-a", new LeaseWant(tenant.Id, 600));

        Assert.Equal((100, 700), (b.Leases[0].Slots, b.Leases[0].MaxConnections));
        Assert.Equal((0, 1), (bLowered.Leases[0].Slots, bLowered.Leases[0].MaxConnections));
        Assert.Equal((1, 1), (aLowered.Leases[0].Slots, aLowered.Leases[0].MaxConnections));
    }

    [Fact]
    public async Task Replace_OutOfRangeValues_Returns400NamingEachField()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await CreateTenantAsync(silo.OperatorClient(), "acme");

        var response = await silo.OperatorClient().PutAsync(Url("/v1/tenants/acme/plan"),
            Json(new { maxConnections = 0, maxMessageSize = 255, dedicatedPorts = -1, pskIdentities = 1_000_001, hostNames = 1001 }));

        var (status, code, errors) = await ProblemErrorsAsync(response);
        Assert.Equal((HttpStatusCode.BadRequest, "validation_failed"), (status, code));
        Assert.Equal(["dedicatedPorts", "hostNames", "maxConnections", "maxMessageSize", "pskIdentities"], errors.Select(e => e.Field).Order());
        Assert.All(errors, e => Assert.Equal("out_of_range", e.Code));
    }

    [Theory]
    [InlineData("{\"maxConnections\":\"10\"}", "maxConnections")]
    [InlineData("{\"maxConnection\":10}", "maxConnection")]
    public async Task Replace_MalformedBody_Returns400NamingTheField(string body, string field)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await CreateTenantAsync(silo.OperatorClient(), "acme");

        var response = await silo.OperatorClient().PutAsync(Url("/v1/tenants/acme/plan"), RawJson(body));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "malformed_body", field);
    }

    [Fact]
    public async Task Replace_UnknownTenant_Returns404()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var response = await silo.OperatorClient().PutAsync(Url("/v1/tenants/nobody/plan"), Json(new { maxConnections = 10 }));

        await AssertProblemAsync(response, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Watch_TenantWithoutAPlanRow_GetsTheDefaultPlansCeilings()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var id = await InternalTestFixture.InsertTenantRowsAsync(silo, "acme", config: new TenantConfig { Limits = new LimitsConfig { MaxConnections = 5000 } });

        var snapshot = Assert.Single((await silo.WatchAsync(0)).Tenants);

        Assert.Equal(id, snapshot.Id);
        Assert.Equal((1000, 1000), (snapshot.Config.Limits.MaxConnections, snapshot.Config.Limits.ConnectionsPerSecond));
    }
}
