using System.Net;
using System.Text.Json;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts.Tenants;
using Platform.Testing;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.Tenants;

public sealed class TenantsApiCreateTests
{
    [Fact]
    public async Task Create_ValidRequest_Returns201WithLocationDefaultsAndAudit()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();

        var response = await client.PostAsync(Url("/v1/tenants"), Json(new { slug = "acme", displayName = "Acme Corp" }));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("/v1/tenants/acme", response.Headers.Location?.ToString());
        var tenant = (await ReadAsync<TenantResponse>(response))!;
        Assert.Equal("acme", tenant.Slug);
        Assert.Equal("Acme Corp", tenant.DisplayName);
        Assert.Equal(TenantStatuses.Active, tenant.Status);
        Assert.Equal(["acme.platform.test"], tenant.HostNames);
        Assert.Empty(tenant.DedicatedPorts);
        Assert.True(tenant.ConfigRevision > 0);

        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        var row = await connection.QuerySingleAsync<(long Revision, long ConfigRevision, int MaxConnections)>(
            "SELECT revision, config_revision, max_connections FROM tenants WHERE id = @Id", new { tenant.Id });
        Assert.Equal(tenant.ConfigRevision, row.Revision);
        Assert.Equal(tenant.ConfigRevision, row.ConfigRevision);
        Assert.Equal(1000, row.MaxConnections);
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>(
            "SELECT count(*) FROM tenant_configs WHERE tenant_id = @Id AND revision = @ConfigRevision", new { tenant.Id, tenant.ConfigRevision }));
        var audit = await connection.QuerySingleAsync<(string Actor, string Action, string TenantSlug, long? Before, long? After)>(
            "SELECT actor, action, tenant_slug, revision_before, revision_after FROM audit_log WHERE tenant_id = @Id", new { tenant.Id });
        Assert.Equal(("operator", "tenant.create", "acme", (long?)null, (long?)tenant.ConfigRevision), audit);
    }

    [Fact]
    public async Task Create_WithConfig_StoresConfigAndEncryptsWebhookSecretOutsideTheJson()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        const string secret = "s3cret-value-0123456789";
        var config = new
        {
            limits = new { maxConnections = 42 },
            delivery = new { mode = "webhook", webhook = new { url = "https://hooks.example.com/in", secret } },
            hostNames = new[] { "devices.example.com" },
        };

        var tenant = await CreateTenantAsync(silo.OperatorClient(), "hooked", config);

        // The custom name is claimed but routes only once proven.
        Assert.Equal(["hooked.platform.test"], tenant.HostNames);
        await HostNameApproval.ApproveAsync(silo.OperatorClient(), "hooked", "devices.example.com");
        var approved = (await ReadAsync<TenantResponse>(await silo.OperatorClient().GetAsync(Url("/v1/tenants/hooked"))))!;
        Assert.Equal(["devices.example.com", "hooked.platform.test"], approved.HostNames);
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        var row = await connection.QuerySingleAsync<(string Config, byte[] Secret)>(
            "SELECT config::text, webhook_secret_enc FROM tenant_configs WHERE tenant_id = @Id", new { tenant.Id });
        Assert.DoesNotContain(secret, row.Config, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, System.Text.Encoding.UTF8.GetString(row.Secret), StringComparison.Ordinal);
        Assert.Equal(42, await connection.ExecuteScalarAsync<int>("SELECT max_connections FROM tenants WHERE id = @Id", new { tenant.Id }));
        using var scope = silo.Services.CreateScope();
        var protector = scope.ServiceProvider.GetRequiredService<Security.SecretProtector>();
        Assert.Equal(secret, protector.UnprotectString(row.Secret, Security.SecretPurposes.WebhookSecret, tenant.Id));
    }

    [Fact]
    public async Task Create_DuplicateSlug_Returns409SlugTaken()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "acme");

        var response = await client.PostAsync(Url("/v1/tenants"), Json(new { slug = "acme", displayName = "Again" }));

        await AssertProblemAsync(response, HttpStatusCode.Conflict, "slug_taken", "slug");
    }

    [Fact]
    public async Task Create_SameSlugConcurrently_ExactlyOneCreated()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();

        var responses = await Task.WhenAll(Enumerable.Range(0, 6).Select(i =>
            client.PostAsync(Url("/v1/tenants"), Json(new { slug = "racer", displayName = $"Racer {i}" }))));

        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Created);
        foreach (var response in responses.Where(r => r.StatusCode != HttpStatusCode.Created))
        {
            await AssertProblemAsync(response, HttpStatusCode.Conflict, "slug_taken", "slug");
        }
    }

    [Fact]
    public async Task Create_HostNameClaimedByAnotherTenant_Returns409NamingTheField()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "first", new { hostNames = new[] { "shared.example.com" } });
        await HostNameApproval.ApproveAsync(client, "first", "shared.example.com");

        var response = await client.PostAsync(Url("/v1/tenants"), Json(new
        {
            slug = "second",
            displayName = "Second",
            config = new { hostNames = new[] { "own.example.com", "SHARED.example.com" } },
        }));

        await AssertProblemAsync(response, HttpStatusCode.Conflict, "host_name_taken", "config.hostNames[1]");
        var missing = await client.GetAsync(Url("/v1/tenants/second"));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Theory]
    [InlineData("", "required")]
    [InlineData("ab", "invalid_format")]
    [InlineData("Acme", "invalid_format")]
    [InlineData("1acme", "invalid_format")]
    [InlineData("acme-", "invalid_format")]
    [InlineData("ac--me", "invalid_format")]
    [InlineData("ac_me", "invalid_format")]
    [InlineData("abcdefghijabcdefghijabcdefghijabcdefghijk", "too_long")]
    public async Task Create_InvalidSlug_Returns400NamingSlug(string slug, string fieldCode)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var response = await silo.OperatorClient().PostAsync(Url("/v1/tenants"), Json(new { slug, displayName = "X" }));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed", "slug");
        Assert.Contains($"\"code\":\"{fieldCode}\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"slug\":\"acme\"}")]
    [InlineData("{\"slug\":\"acme\",\"displayName\":\"   \"}")]
    [InlineData("{\"slug\":\"acme\",\"displayName\":\"bell\\u0007\"}")]
    public async Task Create_MissingOrBadDisplayName_Returns400NamingDisplayName(string body)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var response = await silo.OperatorClient().PostAsync(Url("/v1/tenants"), RawJson(body));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed", "displayName");
    }

    [Fact]
    public async Task Create_DisplayNameTooLong_Returns400TooLong()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var response = await silo.OperatorClient().PostAsync(Url("/v1/tenants"), Json(new { slug = "acme", displayName = new string('x', 201) }));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed", "displayName");
        Assert.Contains("\"code\":\"too_long\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_InvalidConfig_Returns400NamingEveryField()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var response = await silo.OperatorClient().PostAsync(Url("/v1/tenants"), Json(new
        {
            slug = "acme",
            displayName = "Acme",
            config = new
            {
                limits = new { maxConnections = 100_001 },
                access = new { allowedClients = "10.0.0.0/99" },
                hostNames = new[] { "not a host", "x.platform.test" },
            },
        }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var (code, fields) = await ProblemAsync(response);
        Assert.Equal("validation_failed", code);
        Assert.Contains("config.limits.maxConnections", fields);
        Assert.Contains("config.access.allowedClients", fields);
        Assert.Contains("config.hostNames[0]", fields);
        Assert.Contains("config.hostNames[1]", fields);
    }

    [Theory]
    [InlineData("{\"slug\":\"acme\",\"displayName\":\"A\",\"colour\":\"red\"}", "colour")]
    [InlineData("{\"slug\":\"acme\",\"displayName\":\"A\",\"config\":{\"limits\":{\"maxConections\":5}}}", "config.limits.maxConections")]
    [InlineData("{\"slug\":42,\"displayName\":\"A\"}", "slug")]
    [InlineData("{\"slug\":\"acme\",\"displayName\":\"A\",\"config\":{\"limits\":{\"maxConnections\":\"10\"}}}", "config.limits.maxConnections")]
    public async Task Create_UnknownFieldOrWrongType_Returns400MalformedBodyNamingField(string body, string field)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var response = await silo.OperatorClient().PostAsync(Url("/v1/tenants"), RawJson(body));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "malformed_body", field);
    }

    [Theory]
    [InlineData("{\"slug\":\"acme\",")]
    [InlineData("")]
    [InlineData("[]")]
    public async Task Create_MalformedJson_Returns400MalformedBody(string body)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var response = await silo.OperatorClient().PostAsync(Url("/v1/tenants"), RawJson(body));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "malformed_body");
    }

    [Fact]
    public async Task Create_TenantKey_Returns403Forbidden()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenant = await CreateTenantAsync(silo.OperatorClient(), "acme");
        var tenantClient = await TenantKeyFixture.ClientForAsync(silo, tenant.Id);

        var response = await tenantClient.PostAsync(Url("/v1/tenants"), Json(new { slug = "other", displayName = "Other" }));

        await AssertProblemAsync(response, HttpStatusCode.Forbidden, "forbidden");
    }

    [Fact]
    public async Task Get_OperatorAndOwnKey_ReturnTheTenant()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var created = await CreateTenantAsync(silo.OperatorClient(), "acme");
        var tenantClient = await TenantKeyFixture.ClientForAsync(silo, created.Id);

        var byOperator = await silo.OperatorClient().GetAsync(Url("/v1/tenants/acme"));
        var byOwnKey = await tenantClient.GetAsync(Url("/v1/tenants/acme"));

        Assert.Equal(HttpStatusCode.OK, byOperator.StatusCode);
        Assert.Equal(HttpStatusCode.OK, byOwnKey.StatusCode);
        var a = (await ReadAsync<TenantResponse>(byOperator))!;
        var b = (await ReadAsync<TenantResponse>(byOwnKey))!;
        Assert.Equal(created.Id, a.Id);
        Assert.Equal(created.Id, b.Id);
        Assert.Equal(created.CreatedAt, a.CreatedAt);
        Assert.Equal(created.HostNames, b.HostNames);
    }

    [Fact]
    public async Task Get_OtherTenantsSlugWithTenantKey_Returns404ShapedLikeNonexistent()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var own = await CreateTenantAsync(silo.OperatorClient(), "alpha");
        await CreateTenantAsync(silo.OperatorClient(), "bravo");
        var tenantClient = await TenantKeyFixture.ClientForAsync(silo, own.Id);

        var other = await tenantClient.GetAsync(Url("/v1/tenants/bravo"));
        var nonexistent = await tenantClient.GetAsync(Url("/v1/tenants/charl"));

        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, nonexistent.StatusCode);
        Assert.Equal(Shape(await other.Content.ReadAsStringAsync(), "bravo"), Shape(await nonexistent.Content.ReadAsStringAsync(), "charl"));
    }

    [Fact]
    public async Task Get_Nonexistent_Returns404NotFound()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var response = await silo.OperatorClient().GetAsync(Url("/v1/tenants/nobody"));

        await AssertProblemAsync(response, HttpStatusCode.NotFound, "not_found");
    }

    // Everything but the trace id and the slug itself must be identical.
    private static string Shape(string body, string slug)
    {
        using var document = JsonDocument.Parse(body);
        var members = document.RootElement.EnumerateObject()
            .Where(p => p.Name != "traceId")
            .Select(p => $"{p.Name}={p.Value.ToString().Replace(slug, "{slug}", StringComparison.Ordinal)}");
        return string.Join("|", members);
    }
}
