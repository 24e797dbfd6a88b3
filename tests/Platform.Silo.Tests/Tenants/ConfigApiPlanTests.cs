using System.Net;
using Dapper;
using Platform.Contracts.Config;
using Platform.Contracts.Tenants;
using Platform.Testing;
using static Platform.Silo.Tests.Plans.PlanTestClient;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.Tenants;

/// <summary>Configuration writes (config PUT, tenant creation) against the tenant's plan.</summary>
public sealed class ConfigApiPlanTests
{
    /// <summary>A small plan, and a configuration exactly at each of its ceilings.</summary>
    private static readonly object SmallPlan = new { maxConnections = 10, connectionsPerSecond = 20, maxMessageSize = 4096, maxHalfOpenHandshakes = 8 };

    private static readonly TenantConfig AtCeilings = new()
    {
        Limits = new LimitsConfig { MaxConnections = 10, ConnectionsPerSecond = 20, MaxHalfOpenHandshakes = 8, MaxHalfOpenHandshakesPerClient = 8 },
        WebSocket = new WebSocketConfig { MaxMessageSize = 4096 },
        Framing = new FramingConfig { Mode = FramingModes.Record, MaxLineLength = 4096, RecordLength = 4096 },
    };

    [Fact]
    public async Task Replace_TenantKeyRaisesMaxConnectionsTo100000_Returns400AbovePlanAndChangesNothing()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenant = await CreateTenantAsync(silo.OperatorClient(), "acme");
        var tenantClient = await TenantKeyFixture.ClientForAsync(silo, tenant.Id);

        var response = await ReplaceConfigAsync(tenantClient, "acme", new TenantConfig { Limits = new LimitsConfig { MaxConnections = 100_000 } });

        var (status, code, errors) = await ProblemErrorsAsync(response);
        Assert.Equal((HttpStatusCode.BadRequest, "validation_failed"), (status, code));
        var error = Assert.Single(errors);
        Assert.Equal(("limits.maxConnections", "above_plan"), (error.Field, error.Code));
        Assert.Contains("1000", error.Message, StringComparison.Ordinal);
        var current = (await ReadAsync<ConfigResponse>(await tenantClient.GetAsync(Url("/v1/tenants/acme/config"))))!;
        Assert.Equal((tenant.ConfigRevision, 1000), (current.Revision, current.Config.Limits.MaxConnections));
        Assert.Equal(1000, await MaxConnectionsRowAsync(database, tenant.Id));
    }

    [Theory]
    [InlineData("limits.maxConnections")]
    [InlineData("limits.connectionsPerSecond")]
    [InlineData("limits.maxHalfOpenHandshakes")]
    [InlineData("limits.maxHalfOpenHandshakesPerClient")]
    [InlineData("webSocket.maxMessageSize")]
    [InlineData("framing.maxLineLength")]
    [InlineData("framing.recordLength")]
    public async Task Replace_OneValueAboveThePlan_Returns400AbovePlanNamingTheCeiling(string field)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var op = silo.OperatorClient();
        await CreateTenantAsync(op, "acme");
        await SetPlanAsync(op, "acme", SmallPlan);
        var atCeilings = await ReplaceConfigAsync(op, "acme", AtCeilings);
        Assert.True(atCeilings.StatusCode == HttpStatusCode.OK, await atCeilings.Content.ReadAsStringAsync());

        var (ceiling, above) = field switch
        {
            "limits.maxConnections" => (10, AtCeilings with { Limits = AtCeilings.Limits with { MaxConnections = 11 } }),
            "limits.connectionsPerSecond" => (20, AtCeilings with { Limits = AtCeilings.Limits with { ConnectionsPerSecond = 21 } }),
            "limits.maxHalfOpenHandshakes" => (8, AtCeilings with { Limits = AtCeilings.Limits with { MaxHalfOpenHandshakes = 9 } }),
            "limits.maxHalfOpenHandshakesPerClient" => (8, AtCeilings with { Limits = AtCeilings.Limits with { MaxHalfOpenHandshakesPerClient = 9 } }),
            "webSocket.maxMessageSize" => (4096, AtCeilings with { WebSocket = AtCeilings.WebSocket with { MaxMessageSize = 4097 } }),
            "framing.maxLineLength" => (4096, AtCeilings with { Framing = AtCeilings.Framing with { MaxLineLength = 4097 } }),
            "framing.recordLength" => (4096, AtCeilings with { Framing = AtCeilings.Framing with { RecordLength = 4097 } }),
            _ => throw new ArgumentOutOfRangeException(nameof(field)),
        };
        var response = await ReplaceConfigAsync(op, "acme", above);

        var (status, code, errors) = await ProblemErrorsAsync(response);
        Assert.Equal((HttpStatusCode.BadRequest, "validation_failed"), (status, code));
        var error = Assert.Single(errors);
        Assert.Equal((field, "above_plan"), (error.Field, error.Code));
        Assert.Contains(ceiling.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_ConfigAboveTheGivenPlan_Returns400AbovePlanUnderConfig()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var response = await silo.OperatorClient().PostAsync(Url("/v1/tenants"), Json(new
        {
            slug = "acme",
            displayName = "Acme",
            plan = new { maxConnections = 50 },
            config = new { limits = new { maxConnections = 51 } },
        }));

        var (status, code, errors) = await ProblemErrorsAsync(response);
        Assert.Equal((HttpStatusCode.BadRequest, "validation_failed"), (status, code));
        Assert.Equal([("config.limits.maxConnections", "above_plan")], errors.Select(e => (e.Field, e.Code)));
        Assert.Equal(HttpStatusCode.NotFound, (await silo.OperatorClient().GetAsync(Url("/v1/tenants/acme"))).StatusCode);
    }

    [Fact]
    public async Task Create_DefaultPlan_RefusesConfigAboveItsDefaults()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var response = await silo.OperatorClient().PostAsync(Url("/v1/tenants"), Json(new
        {
            slug = "acme",
            displayName = "Acme",
            config = new { limits = new { maxConnections = 5000, maxHalfOpenHandshakes = 257 } },
        }));

        var (status, code, errors) = await ProblemErrorsAsync(response);
        Assert.Equal((HttpStatusCode.BadRequest, "validation_failed"), (status, code));
        Assert.Equal(["config.limits.maxConnections", "config.limits.maxHalfOpenHandshakes"], errors.Select(e => e.Field).Order());
        Assert.All(errors, e => Assert.Equal("above_plan", e.Code));
    }

    [Fact]
    public async Task Create_WithPlan_StoresThePlanAndGrantsLeasesAgainstTheEffectiveMaxConnections()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var response = await silo.OperatorClient().PostAsync(Url("/v1/tenants"), Json(new
        {
            slug = "acme",
            displayName = "Acme",
            plan = new { maxConnections = 50_000, dedicatedPorts = 2 },
            config = new { limits = new { maxConnections = 20_000 } },
        }));

        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var tenant = (await ReadAsync<TenantResponse>(response))!;
        Assert.Equal(20_000, await MaxConnectionsRowAsync(database, tenant.Id));
        var plan = await silo.OperatorClient().GetStringAsync(Url("/v1/tenants/acme/plan"));
        Assert.Contains("\"maxConnections\":50000", plan, StringComparison.Ordinal);
        Assert.Contains("\"dedicatedPorts\":2", plan, StringComparison.Ordinal);
    }

    private static async Task<int> MaxConnectionsRowAsync(TestDatabase database, Guid tenantId)
    {
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<int>("SELECT max_connections FROM tenants WHERE id = @tenantId", new { tenantId });
    }
}
