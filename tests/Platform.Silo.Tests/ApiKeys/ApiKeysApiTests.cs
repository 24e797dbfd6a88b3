using System.Net;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Platform.Contracts.ApiKeys;
using Platform.Contracts.Problems;
using Platform.Contracts.Tenants;
using Platform.Testing;
using static Platform.Silo.Tests.ApiKeys.ApiKeyTestClient;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.ApiKeys;

public sealed class ApiKeysApiTests
{
    [Fact]
    public async Task Create_ReturnsTheSecretOnceAndStoresOnlyItsHash()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme");

        var response = await client.PostAsync(Url("/v1/tenants/acme/api-keys"), Json(new { name = "  ci deploy  " }));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = (await ReadAsync<CreatedApiKeyResponse>(response))!;
        Assert.Equal($"/v1/tenants/acme/api-keys/{created.Key.Id}", response.Headers.Location?.ToString());
        Assert.Equal("ci deploy", created.Key.Name);
        Assert.StartsWith($"tk_{created.Key.Id:N}_", created.Secret, StringComparison.Ordinal);
        Assert.StartsWith(created.Key.Prefix, created.Secret, StringComparison.Ordinal);
        Assert.Null(created.Key.RevokedAt);
        // The secret is base64url, which may itself contain '_': it starts after the fixed-width "tk_{id:N}_" prefix.
        var secretPart = created.Secret[$"tk_{created.Key.Id:N}_".Length..];
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        var row = await connection.QuerySingleAsync<(Guid TenantId, string Name, string Prefix, byte[] Hash)>(
            "SELECT tenant_id, name, prefix, secret_hash FROM api_keys WHERE id = @Id", new { created.Key.Id });
        Assert.Equal((tenant.Id, "ci deploy", created.Key.Prefix), (row.TenantId, row.Name, row.Prefix));
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(secretPart)), row.Hash);
        var audit = await connection.QuerySingleAsync<(string Action, string Target, string Details)>(
            "SELECT action, target, details::text FROM audit_log WHERE tenant_id = @Id AND action LIKE 'apikey.%'", new { tenant.Id });
        Assert.Equal(("apikey.create", created.Key.Id.ToString()), (audit.Action, audit.Target));
        Assert.DoesNotContain(secretPart, audit.Details, StringComparison.Ordinal);

        var listed = (await ReadAsync<Page<ApiKeyResponse>>(await client.GetAsync(Url("/v1/tenants/acme/api-keys"))))!;
        Assert.Equal(created.Key.Id, Assert.Single(listed.Items).Id);
    }

    [Fact]
    public async Task CreatedKey_AuthenticatesForItsTenantAndRecordsUse()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var operatorClient = silo.OperatorClient();
        await CreateTenantAsync(operatorClient, "acme");
        var created = await CreateKeyAsync(operatorClient, "acme");
        var tenantClient = silo.ClientWith(created.Secret);

        var tenantResponse = await tenantClient.GetAsync(Url("/v1/tenants/acme"));
        var own = (await ReadAsync<ApiKeyResponse>(await tenantClient.GetAsync(Url($"/v1/tenants/acme/api-keys/{created.Key.Id}"))))!;

        Assert.Equal(HttpStatusCode.OK, tenantResponse.StatusCode);
        Assert.NotNull(own.LastUsedAt);
        await AssertProblemAsync(await tenantClient.PostAsync(Url("/v1/tenants"), Json(new { slug = "sneaky", displayName = "x" })),
            HttpStatusCode.Forbidden, ErrorCodes.Forbidden);
    }

    [Fact]
    public async Task Revoke_KeyStopsAuthenticatingOnTheNextRequest()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var operatorClient = silo.OperatorClient();
        var tenant = await CreateTenantAsync(operatorClient, "acme");
        var created = await CreateKeyAsync(operatorClient, "acme");
        var survivor = await CreateKeyAsync(operatorClient, "acme", "survivor");
        var tenantClient = silo.ClientWith(created.Secret);
        Assert.Equal(HttpStatusCode.OK, (await tenantClient.GetAsync(Url("/v1/tenants/acme/api-keys"))).StatusCode);

        var revoked = await operatorClient.DeleteAsync(Url($"/v1/tenants/acme/api-keys/{created.Key.Id}"));

        Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        await AssertProblemAsync(await tenantClient.GetAsync(Url("/v1/tenants/acme/api-keys")), HttpStatusCode.Unauthorized, ErrorCodes.Unauthenticated);
        Assert.Equal(HttpStatusCode.OK, (await silo.ClientWith(survivor.Secret).GetAsync(Url("/v1/tenants/acme"))).StatusCode);
        var shown = (await ReadAsync<ApiKeyResponse>(await operatorClient.GetAsync(Url($"/v1/tenants/acme/api-keys/{created.Key.Id}"))))!;
        Assert.NotNull(shown.RevokedAt);
        Assert.Equal(HttpStatusCode.NoContent, (await operatorClient.DeleteAsync(Url($"/v1/tenants/acme/api-keys/{created.Key.Id}"))).StatusCode);
        await AssertProblemAsync(await operatorClient.DeleteAsync(Url($"/v1/tenants/acme/api-keys/{Guid.NewGuid()}")), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>(
            "SELECT count(*) FROM audit_log WHERE tenant_id = @Id AND action = 'apikey.revoke' AND target = @Target",
            new { tenant.Id, Target = created.Key.Id.ToString() }));
    }

    [Fact]
    public async Task Revoke_ItsOwnKey_LocksTheCallerOut()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var operatorClient = silo.OperatorClient();
        await CreateTenantAsync(operatorClient, "acme");
        var created = await CreateKeyAsync(operatorClient, "acme");
        var tenantClient = silo.ClientWith(created.Secret);

        var revoked = await tenantClient.DeleteAsync(Url($"/v1/tenants/acme/api-keys/{created.Key.Id}"));

        Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await tenantClient.GetAsync(Url("/v1/tenants/acme"))).StatusCode);
    }

    [Fact]
    public async Task TenantKey_OtherTenantsKeys_AreNotFoundAndKeepWorking()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var operatorClient = silo.OperatorClient();
        await CreateTenantAsync(operatorClient, "acme");
        await CreateTenantAsync(operatorClient, "beta");
        var acme = silo.ClientWith((await CreateKeyAsync(operatorClient, "acme")).Secret);
        var beta = await CreateKeyAsync(operatorClient, "beta");

        foreach (var response in new[]
        {
            await acme.GetAsync(Url("/v1/tenants/beta/api-keys")),
            await acme.GetAsync(Url($"/v1/tenants/beta/api-keys/{beta.Key.Id}")),
            await acme.PostAsync(Url("/v1/tenants/beta/api-keys"), Json(new { name = "intruder" })),
            await acme.DeleteAsync(Url($"/v1/tenants/beta/api-keys/{beta.Key.Id}")),
            await acme.GetAsync(Url($"/v1/tenants/acme/api-keys/{beta.Key.Id}")),
            await acme.DeleteAsync(Url($"/v1/tenants/acme/api-keys/{beta.Key.Id}")),
        })
        {
            await AssertProblemAsync(response, HttpStatusCode.NotFound, ErrorCodes.NotFound);
        }

        Assert.Equal(HttpStatusCode.OK, (await silo.ClientWith(beta.Secret).GetAsync(Url("/v1/tenants/beta"))).StatusCode);
        var betaKeys = (await ReadAsync<Page<ApiKeyResponse>>(await operatorClient.GetAsync(Url("/v1/tenants/beta/api-keys"))))!;
        Assert.Equal(beta.Key.Id, Assert.Single(betaKeys.Items).Id);
        Assert.Null(betaKeys.Items[0].RevokedAt);
    }

    [Fact]
    public async Task Create_InvalidName_FailsValidationOnName()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme");

        foreach (var body in new[] { RawJson("""{"name":""}"""), RawJson("""{"name":"   "}"""), RawJson("{}"), Json(new { name = new string('n', 101) }), Json(new { name = "tab\there" }) })
        {
            await AssertProblemAsync(await client.PostAsync(Url("/v1/tenants/acme/api-keys"), body), HttpStatusCode.BadRequest, ErrorCodes.ValidationFailed, "name");
        }

        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync(Url("/v1/tenants/acme/api-keys"), Json(new { name = new string('n', 100) }))).StatusCode);
        await AssertProblemAsync(await client.PostAsync(Url("/v1/tenants/nobody/api-keys"), Json(new { name = "x" })), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM api_keys WHERE tenant_id = @Id", new { tenant.Id }));
    }
}
