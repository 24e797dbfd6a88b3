using System.Net;
using System.Text;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Platform.Contracts.Internal;
using Platform.Contracts.Problems;
using Platform.Contracts.Psk;
using Platform.Contracts.Tenants;
using Platform.Silo.Psk;
using Platform.Silo.Security;
using Platform.Testing;
using static Platform.Silo.Tests.ApiKeys.ApiKeyTestClient;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.Psk;

public sealed class PskApiTests
{
    private const string KeyHex = "00112233445566778899AABBCCDDEEFF0123456789abcdef";

    [Fact]
    public async Task Create_StoresTheKeyEncryptedBumpsRevisionAndServesItToGatewaysOnly()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme");
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        var revisionBefore = await connection.ExecuteScalarAsync<long>("SELECT revision FROM tenants WHERE id = @Id", new { tenant.Id });

        var response = await client.PostAsync(Url("/v1/tenants/acme/psk-identities"), Json(new { identity = "sensor-7", key = KeyHex }));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain(KeyHex, body, StringComparison.OrdinalIgnoreCase);
        var created = (await ReadAsync<PskIdentityResponse>(response))!;
        Assert.Equal(("sensor-7", "acme/sensor-7"), (created.Identity, created.FullIdentity));
        Assert.Equal($"/v1/tenants/acme/psk-identities/{created.Id}", response.Headers.Location?.ToString());
        Assert.Equal(created, await ReadAsync<PskIdentityResponse>(await client.GetAsync(Url($"/v1/tenants/acme/psk-identities/{created.Id}"))));

        var keyEnc = await connection.QuerySingleAsync<byte[]>(
            "SELECT key_enc FROM psk_identities WHERE id = @Id AND tenant_id = @TenantId", new { created.Id, TenantId = tenant.Id });
        var key = Convert.FromHexString(KeyHex);
        Assert.True(keyEnc.AsSpan().IndexOf(key.AsSpan(0, 8)) < 0, "The stored key holds plaintext key bytes.");
        Assert.DoesNotContain(KeyHex[..16], Encoding.Latin1.GetString(keyEnc), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(key, silo.Services.GetRequiredService<SecretProtector>().Unprotect(keyEnc, SecretPurposes.PskKey, created.Id));
        var material = Assert.Single(await silo.Services.GetRequiredService<PskStore>().LoadMaterialAsync(connection, tenant.Id, null, CancellationToken.None));
        Assert.Equal(new PskMaterial("sensor-7", KeyHex.ToLowerInvariant()), material);

        var revisionAfter = await connection.ExecuteScalarAsync<long>("SELECT revision FROM tenants WHERE id = @Id", new { tenant.Id });
        Assert.True(revisionAfter > revisionBefore);
        var audit = await connection.QuerySingleAsync<(string Target, long Before, long After, string Details)>(
            "SELECT target, revision_before, revision_after, details::text FROM audit_log WHERE tenant_id = @Id AND action = 'psk.create'", new { tenant.Id });
        Assert.Equal((created.Id.ToString(), revisionBefore, revisionAfter), (audit.Target, audit.Before, audit.After));
        Assert.Contains("sensor-7", audit.Details, StringComparison.Ordinal);
        Assert.DoesNotContain(KeyHex[..16], audit.Details, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Create_DuplicateIdentityInTheTenant_Returns409ButOtherTenantsAndCasesAreFree()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme");
        await CreateTenantAsync(client, "beta");
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync(Url("/v1/tenants/acme/psk-identities"), Json(new { identity = "dev", key = KeyHex }))).StatusCode);
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        var revision = await connection.ExecuteScalarAsync<long>("SELECT revision FROM tenants WHERE id = @Id", new { tenant.Id });

        var duplicate = await client.PostAsync(Url("/v1/tenants/acme/psk-identities"), Json(new { identity = "dev", key = new string('1', 32) }));
        var otherTenant = await client.PostAsync(Url("/v1/tenants/beta/psk-identities"), Json(new { identity = "dev", key = KeyHex }));
        var otherCase = await client.PostAsync(Url("/v1/tenants/acme/psk-identities"), Json(new { identity = "DEV", key = KeyHex }));

        await AssertProblemAsync(duplicate, HttpStatusCode.Conflict, ErrorCodes.PskIdentityTaken, "identity");
        Assert.Equal(HttpStatusCode.Created, otherTenant.StatusCode);
        Assert.Equal(HttpStatusCode.Created, otherCase.StatusCode);
        Assert.True(await connection.ExecuteScalarAsync<long>("SELECT revision FROM tenants WHERE id = @Id", new { tenant.Id }) > revision);
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>(
            "SELECT count(*) FROM audit_log WHERE tenant_id = @Id AND action = 'psk.create' AND details->>'identity' = 'dev'", new { tenant.Id }));
    }

    [Fact]
    public async Task Create_InvalidInput_NamesTheFieldAndWritesNothing()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme");
        var cases = new (object Body, string Field)[]
        {
            (new { identity = "acme/dev", key = KeyHex }, "identity"),
            (new { identity = new string('d', 65), key = KeyHex }, "identity"),
            (new { identity = "", key = KeyHex }, "identity"),
            (new { identity = "dev", key = "abc" }, "key"),
            (new { identity = "dev", key = new string('a', 30) }, "key"),
            (new { identity = "dev", key = new string('a', 130) }, "key"),
            (new { identity = "dev", key = "not hex at all, not hex at all!!" }, "key"),
        };

        foreach (var (body, field) in cases)
        {
            await AssertProblemAsync(await client.PostAsync(Url("/v1/tenants/acme/psk-identities"), Json(body)), HttpStatusCode.BadRequest, ErrorCodes.ValidationFailed, field);
        }

        await AssertProblemAsync(await client.PostAsync(Url("/v1/tenants/acme/psk-identities"), RawJson("""{"identity":"dev","key":null}""")),
            HttpStatusCode.BadRequest, ErrorCodes.MalformedBody);
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM psk_identities WHERE tenant_id = @Id", new { tenant.Id }));
    }

    [Fact]
    public async Task Delete_RemovesTheIdentityAndBumpsRevision()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme");
        var first = (await ReadAsync<PskIdentityResponse>(await client.PostAsync(Url("/v1/tenants/acme/psk-identities"), Json(new { identity = "b-dev", key = KeyHex }))))!;
        var second = (await ReadAsync<PskIdentityResponse>(await client.PostAsync(Url("/v1/tenants/acme/psk-identities"), Json(new { identity = "a-dev", key = KeyHex }))))!;
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        var revision = await connection.ExecuteScalarAsync<long>("SELECT revision FROM tenants WHERE id = @Id", new { tenant.Id });
        var listed = (await ReadAsync<Page<PskIdentityResponse>>(await client.GetAsync(Url("/v1/tenants/acme/psk-identities"))))!;
        Assert.Equal([second.Id, first.Id], listed.Items.Select(i => i.Id).ToArray());

        var deleted = await client.DeleteAsync(Url($"/v1/tenants/acme/psk-identities/{first.Id}"));

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        await AssertProblemAsync(await client.DeleteAsync(Url($"/v1/tenants/acme/psk-identities/{first.Id}")), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        await AssertProblemAsync(await client.GetAsync(Url($"/v1/tenants/acme/psk-identities/{first.Id}")), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        listed = (await ReadAsync<Page<PskIdentityResponse>>(await client.GetAsync(Url("/v1/tenants/acme/psk-identities"))))!;
        Assert.Equal([second.Id], listed.Items.Select(i => i.Id).ToArray());
        Assert.True(await connection.ExecuteScalarAsync<long>("SELECT revision FROM tenants WHERE id = @Id", new { tenant.Id }) > revision);
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>(
            "SELECT count(*) FROM audit_log WHERE tenant_id = @Id AND action = 'psk.delete' AND target = @Target", new { tenant.Id, Target = first.Id.ToString() }));
        var material = await silo.Services.GetRequiredService<PskStore>().LoadMaterialAsync(connection, tenant.Id, null, CancellationToken.None);
        Assert.Equal(["a-dev"], material.Select(m => m.Identity).ToArray());
    }

    [Fact]
    public async Task TenantKey_OtherTenantsIdentities_AreNotFoundAndUntouched()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var operatorClient = silo.OperatorClient();
        await CreateTenantAsync(operatorClient, "acme");
        await CreateTenantAsync(operatorClient, "beta");
        var betaIdentity = (await ReadAsync<PskIdentityResponse>(await operatorClient.PostAsync(
            Url("/v1/tenants/beta/psk-identities"), Json(new { identity = "dev", key = KeyHex }))))!;
        var acme = silo.ClientWith((await CreateKeyAsync(operatorClient, "acme")).Secret);

        Assert.Equal(HttpStatusCode.Created, (await acme.PostAsync(Url("/v1/tenants/acme/psk-identities"), Json(new { identity = "mine", key = KeyHex }))).StatusCode);
        foreach (var response in new[]
        {
            await acme.GetAsync(Url("/v1/tenants/beta/psk-identities")),
            await acme.GetAsync(Url($"/v1/tenants/beta/psk-identities/{betaIdentity.Id}")),
            await acme.DeleteAsync(Url($"/v1/tenants/beta/psk-identities/{betaIdentity.Id}")),
            await acme.PostAsync(Url("/v1/tenants/beta/psk-identities"), Json(new { identity = "intruder", key = KeyHex })),
            await acme.GetAsync(Url($"/v1/tenants/acme/psk-identities/{betaIdentity.Id}")),
            await acme.DeleteAsync(Url($"/v1/tenants/acme/psk-identities/{betaIdentity.Id}")),
        })
        {
            await AssertProblemAsync(response, HttpStatusCode.NotFound, ErrorCodes.NotFound);
        }

        var betaList = (await ReadAsync<Page<PskIdentityResponse>>(await operatorClient.GetAsync(Url("/v1/tenants/beta/psk-identities"))))!;
        Assert.Equal([betaIdentity.Id], betaList.Items.Select(i => i.Id).ToArray());
    }
}
