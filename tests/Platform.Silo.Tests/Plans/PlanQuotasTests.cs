using System.Net;
using Dapper;
using Platform.Contracts.ApiKeys;
using Platform.Contracts.Config;
using Platform.Contracts.Psk;
using Platform.Contracts.Tenants;
using Platform.Silo.Tests.Certificates;
using Platform.Silo.Tests.Tenants;
using Platform.Testing;
using static Platform.Silo.Tests.Plans.PlanTestClient;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.Plans;

/// <summary>The plan's counts: what a tenant (or an operator on its behalf) may create.</summary>
public sealed class PlanQuotasTests
{
    [Fact]
    public async Task AllocatePort_SixthOnTheDefaultPlan_Returns409QuotaExceededForTenantAndOperator()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var op = silo.OperatorClient();
        var tenant = await CreateTenantAsync(op, "acme");
        var tenantClient = await TenantKeyFixture.ClientForAsync(silo, tenant.Id);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await tenantClient.PostAsync(Url("/v1/tenants/acme/ports"), Json(new AllocatePortRequest("tcp")))).StatusCode);
        }

        var sixth = await tenantClient.PostAsync(Url("/v1/tenants/acme/ports"), Json(new AllocatePortRequest("tls")));
        var byOperator = await op.PostAsync(Url("/v1/tenants/acme/ports"), Json(new AllocatePortRequest("tls")));

        await AssertQuotaExceededAsync(sixth, "dedicatedPorts", "The plan allows 5 dedicated ports; the tenant holds 5.");
        await AssertQuotaExceededAsync(byOperator, "dedicatedPorts");
        Assert.Equal(5, await CountAsync(database, "dedicated_ports", tenant.Id));

        // Operators raise the plan first; then the sixth fits.
        await SetPlanAsync(op, "acme", new { dedicatedPorts = 6 });
        Assert.Equal(HttpStatusCode.Created, (await tenantClient.PostAsync(Url("/v1/tenants/acme/ports"), Json(new AllocatePortRequest("tls")))).StatusCode);
    }

    [Fact]
    public async Task UploadCertificate_AtThePlansCount_Returns409QuotaExceeded()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var op = silo.OperatorClient();
        var tenant = await CreateTenantAsync(op, "acme");
        await SetPlanAsync(op, "acme", new { certificates = 2 });
        var tenantClient = await TenantKeyFixture.ClientForAsync(silo, tenant.Id);
        using var certificate = TestCertificates.Create(DateTimeOffset.UtcNow, ["device.example.com"]);
        var body = new { pem = TestCertificates.Pem(certificate) };
        Assert.Equal(HttpStatusCode.Created, (await tenantClient.PostAsync(Url("/v1/tenants/acme/certificates"), Json(body))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await tenantClient.PostAsync(Url("/v1/tenants/acme/certificates"), Json(body))).StatusCode);

        var third = await tenantClient.PostAsync(Url("/v1/tenants/acme/certificates"), Json(body));

        await AssertQuotaExceededAsync(third, "certificates", "The plan allows 2 certificates; the tenant holds 2.");
        Assert.Equal(2, await CountAsync(database, "certificates", tenant.Id));
    }

    [Fact]
    public async Task CreatePskIdentity_AtThePlansCount_Returns409QuotaExceeded()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var op = silo.OperatorClient();
        var tenant = await CreateTenantAsync(op, "acme");
        await SetPlanAsync(op, "acme", new { pskIdentities = 1 });
        var tenantClient = await TenantKeyFixture.ClientForAsync(silo, tenant.Id);
        Assert.Equal(HttpStatusCode.Created, (await tenantClient.PostAsync(Url("/v1/tenants/acme/psk-identities"),
            Json(new CreatePskIdentityRequest("sensor-1", new string('a', 32))))).StatusCode);

        var second = await tenantClient.PostAsync(Url("/v1/tenants/acme/psk-identities"), Json(new CreatePskIdentityRequest("sensor-2", new string('b', 32))));

        await AssertQuotaExceededAsync(second, "pskIdentities", "The plan allows 1 PSK identity; the tenant holds 1.");
        Assert.Equal(1, await CountAsync(database, "psk_identities", tenant.Id));
    }

    [Fact]
    public async Task CreateApiKey_AtThePlansCount_Returns409_RevokedKeysDoNotCount()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var op = silo.OperatorClient();
        await CreateTenantAsync(op, "acme");
        await SetPlanAsync(op, "acme", new { apiKeys = 2 });
        var first = await CreateKeyAsync(op);
        var tenantClient = silo.ClientWith(first.Secret);
        Assert.Equal(HttpStatusCode.Created, (await tenantClient.PostAsync(Url("/v1/tenants/acme/api-keys"), Json(new CreateApiKeyRequest("second")))).StatusCode);

        var third = await tenantClient.PostAsync(Url("/v1/tenants/acme/api-keys"), Json(new CreateApiKeyRequest("third")));
        await AssertQuotaExceededAsync(third, "apiKeys", "The plan allows 2 live API keys; the tenant holds 2.");

        Assert.Equal(HttpStatusCode.NoContent, (await op.DeleteAsync(Url($"/v1/tenants/acme/api-keys/{first.Key.Id}"))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await op.PostAsync(Url("/v1/tenants/acme/api-keys"), Json(new CreateApiKeyRequest("after revoking")))).StatusCode);
    }

    [Fact]
    public async Task ReplaceConfig_CustomHostNamesAboveThePlan_Returns409_NamesSharedWithCertificatesCountOnce()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var op = silo.OperatorClient();
        var tenant = await CreateTenantAsync(op, "acme");
        await SetPlanAsync(op, "acme", new { hostNames = 2 });
        var tenantClient = await TenantKeyFixture.ClientForAsync(silo, tenant.Id);
        using var certificate = TestCertificates.Create(DateTimeOffset.UtcNow, ["a.example.com", "acme.platform.test"]);
        Assert.Equal(HttpStatusCode.Created, (await tenantClient.PostAsync(Url("/v1/tenants/acme/certificates"), Json(new { pem = TestCertificates.Pem(certificate) }))).StatusCode);

        var three = await ReplaceConfigAsync(tenantClient, "acme", new TenantConfig { HostNames = ["b.example.com", "c.example.com"] });
        var twoAndShared = await ReplaceConfigAsync(tenantClient, "acme", new TenantConfig { HostNames = ["b.example.com", "A.example.com"] });

        await AssertQuotaExceededAsync(three, "hostNames", "The plan allows 2 custom host names; the configuration and certificates would hold 3.");
        Assert.True(twoAndShared.StatusCode == HttpStatusCode.OK, await twoAndShared.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task UploadCertificate_NewHostNamesAboveThePlan_Returns409_RenewalOfHeldNamesAccepted()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var op = silo.OperatorClient();
        var tenant = await CreateTenantAsync(op, "acme", new { hostNames = new[] { "a.example.com", "b.example.com" } });
        await SetPlanAsync(op, "acme", new { hostNames = 2 });
        var tenantClient = await TenantKeyFixture.ClientForAsync(silo, tenant.Id);
        using var newName = TestCertificates.Create(DateTimeOffset.UtcNow, ["a.example.com", "c.example.com"]);
        using var heldNames = TestCertificates.Create(DateTimeOffset.UtcNow, ["a.example.com", "b.example.com"]);

        var adding = await tenantClient.PostAsync(Url("/v1/tenants/acme/certificates"), Json(new { pem = TestCertificates.Pem(newName) }));
        await AssertQuotaExceededAsync(adding, "hostNames", "The plan allows 2 custom host names; the configuration and certificates would hold 3.");
        Assert.Equal(0, await CountAsync(database, "certificates", tenant.Id));

        // Lowered below what the tenant holds: a certificate for names it already has (a renewal) is still accepted,
        // while the next configuration write must fit.
        await SetPlanAsync(op, "acme", new { hostNames = 1 });
        var renewal = await tenantClient.PostAsync(Url("/v1/tenants/acme/certificates"), Json(new { pem = TestCertificates.Pem(heldNames) }));
        var sameConfig = await ReplaceConfigAsync(tenantClient, "acme", new TenantConfig { HostNames = ["a.example.com", "b.example.com"] });

        Assert.True(renewal.StatusCode == HttpStatusCode.Created, await renewal.Content.ReadAsStringAsync());
        await AssertQuotaExceededAsync(sameConfig, "hostNames");
    }

    [Fact]
    public async Task CreateTenant_HostNamesAboveTheGivenPlan_Returns409()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var response = await silo.OperatorClient().PostAsync(Url("/v1/tenants"), Json(new
        {
            slug = "acme",
            displayName = "Acme",
            plan = new { hostNames = 1 },
            config = new { hostNames = new[] { "a.example.com", "b.example.com" } },
        }));

        await AssertQuotaExceededAsync(response, "hostNames");
        Assert.Equal(HttpStatusCode.NotFound, (await silo.OperatorClient().GetAsync(Url("/v1/tenants/acme"))).StatusCode);
    }

    [Fact]
    public async Task Create_ManyConcurrently_EndsAtExactlyThePlansCount()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, useKestrel: true);
        var op = silo.OperatorClient();
        var tenant = await CreateTenantAsync(op, "acme");
        var key = await TenantKeyFixture.CreateKeyAsync(silo, tenant.Id);
        // The key the requests are made with is the first of four.
        await SetPlanAsync(op, "acme", new { dedicatedPorts = 3, pskIdentities = 3, apiKeys = 4 });

        // Each creator on its own connection, so the requests really overlap in the silo.
        var requests = Enumerable.Range(0, 12).SelectMany(i => new (string Path, object Body)[]
        {
            ("/v1/tenants/acme/ports", new AllocatePortRequest("tcp")),
            ("/v1/tenants/acme/psk-identities", new CreatePskIdentityRequest($"device-{i}", new string('c', 32))),
            ("/v1/tenants/acme/api-keys", new CreateApiKeyRequest($"key {i}")),
        });
        using var start = new SemaphoreSlim(0);
        var sent = requests.Select(r => Task.Run(async () =>
        {
            using var client = silo.ClientWith(key);
            await start.WaitAsync();
            return (r.Path, Response: await client.PostAsync(Url(r.Path), Json(r.Body)));
        })).ToList();
        start.Release(sent.Count);
        var answers = await Task.WhenAll(sent);

        foreach (var path in new[] { "/v1/tenants/acme/ports", "/v1/tenants/acme/psk-identities", "/v1/tenants/acme/api-keys" })
        {
            var mine = answers.Where(a => a.Path == path).ToList();
            Assert.Equal(3, mine.Count(a => a.Response.StatusCode == HttpStatusCode.Created));
            foreach (var refused in mine.Where(a => a.Response.StatusCode != HttpStatusCode.Created))
            {
                await AssertQuotaExceededAsync(refused.Response, path.EndsWith("ports", StringComparison.Ordinal) ? "dedicatedPorts"
                    : path.EndsWith("psk-identities", StringComparison.Ordinal) ? "pskIdentities" : "apiKeys");
            }
        }

        Assert.Equal(3, await CountAsync(database, "dedicated_ports", tenant.Id));
        Assert.Equal(3, await CountAsync(database, "psk_identities", tenant.Id));
        Assert.Equal(4, await CountAsync(database, "api_keys", tenant.Id));
    }

    private static async Task<CreatedApiKeyResponse> CreateKeyAsync(HttpClient client)
    {
        var response = await client.PostAsync(Url("/v1/tenants/acme/api-keys"), Json(new CreateApiKeyRequest("first")));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await ReadAsync<CreatedApiKeyResponse>(response))!;
    }

    private static async Task<int> CountAsync(TestDatabase database, string table, Guid tenantId)
    {
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<int>($"SELECT count(*) FROM {table} WHERE tenant_id = @tenantId", new { tenantId });
    }
}
