using System.Net;
using System.Security.Cryptography;
using Dapper;
using Platform.Contracts.Internal;
using Platform.Contracts.Problems;
using Platform.Contracts.RawKeys;
using Platform.Contracts.Tenants;
using Platform.Silo.Tests.Internal;
using Platform.Testing;
using static Platform.Silo.Tests.ApiKeys.ApiKeyTestClient;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.RawKeys;

public sealed class RawPublicKeysApiTests
{
    [Fact]
    public async Task Create_BumpsRevisionAuditsAndReachesGateways_DeleteByFingerprintRemovesIt()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme");
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var der = ec.ExportSubjectPublicKeyInfo();
        var fingerprint = Convert.ToHexStringLower(SHA256.HashData(der));
        var cursor = (await silo.WatchAsync(0)).Revision;
        var revisionBefore = await RevisionAsync(database, tenant.Id);

        var response = await client.PostAsync(Url("/v1/tenants/acme/raw-public-keys"), Json(new { key = ec.ExportSubjectPublicKeyInfoPem(), name = "meter 7" }));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = (await ReadAsync<RawPublicKeyResponse>(response))!;
        Assert.Equal(("meter 7", fingerprint, RawPublicKeyAlgorithms.EcP256), (created.Name, created.Fingerprint, created.Algorithm));
        Assert.Equal($"/v1/tenants/acme/raw-public-keys/{created.Id}", response.Headers.Location?.ToString());
        Assert.Equal(created, await ReadAsync<RawPublicKeyResponse>(await client.GetAsync(Url($"/v1/tenants/acme/raw-public-keys/{created.Id}"))));
        Assert.Equal(created, await ReadAsync<RawPublicKeyResponse>(await client.GetAsync(Url($"/v1/tenants/acme/raw-public-keys/{fingerprint.ToUpperInvariant()}"))));
        var listed = (await ReadAsync<Page<RawPublicKeyResponse>>(await client.GetAsync(Url("/v1/tenants/acme/raw-public-keys"))))!;
        Assert.Equal([created], listed.Items);
        // The list shows the fingerprint, never the key itself.
        var listBody = await (await client.GetAsync(Url("/v1/tenants/acme/raw-public-keys"))).Content.ReadAsStringAsync();
        Assert.DoesNotContain(Convert.ToBase64String(der)[..40], listBody, StringComparison.Ordinal);

        var revisionAfter = await RevisionAsync(database, tenant.Id);
        Assert.True(revisionAfter > revisionBefore);
        await using (var dataSource = database.CreateDataSource())
        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            var audit = await connection.QuerySingleAsync<(string Target, long Before, long After, string Details)>(
                "SELECT target, revision_before, revision_after, details::text FROM audit_log WHERE tenant_id = @Id AND action = 'raw_public_key.create'",
                new { tenant.Id });
            Assert.Equal((created.Id.ToString(), revisionBefore, revisionAfter), (audit.Target, audit.Before, audit.After));
            Assert.Contains(fingerprint, audit.Details, StringComparison.Ordinal);
        }

        // The gateways' watch sees the change as a new revision of the tenant whose snapshot carries the key.
        var changed = await silo.WatchAsync(cursor);
        var snapshot = Assert.Single(changed.Tenants);
        Assert.Equal(revisionAfter, snapshot.Revision);
        Assert.Equal([new RawPublicKeyMaterial(created.Id, fingerprint, Convert.ToBase64String(der))], snapshot.RawPublicKeys);

        var deleted = await client.DeleteAsync(Url($"/v1/tenants/acme/raw-public-keys/{fingerprint}"));

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        await AssertProblemAsync(await client.GetAsync(Url($"/v1/tenants/acme/raw-public-keys/{created.Id}")), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        await AssertProblemAsync(await client.DeleteAsync(Url($"/v1/tenants/acme/raw-public-keys/{created.Id}")), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        var afterDelete = await silo.WatchAsync(changed.Revision);
        var emptied = Assert.Single(afterDelete.Tenants);
        Assert.True(emptied.Revision > revisionAfter);
        Assert.Empty(emptied.RawPublicKeys!);
        await using (var dataSource = database.CreateDataSource())
        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            Assert.Equal(1, await connection.ExecuteScalarAsync<int>(
                "SELECT count(*) FROM audit_log WHERE tenant_id = @Id AND action = 'raw_public_key.delete' AND target = @Target",
                new { tenant.Id, Target = created.Id.ToString() }));
        }
    }

    [Fact]
    public async Task Create_SameKeyTwiceInATenant_Returns409InAnyEncodingButOtherTenantsMayTrustIt()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme");
        await CreateTenantAsync(client, "beta");
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync(Url("/v1/tenants/acme/raw-public-keys"), Json(new { key = ec.ExportSubjectPublicKeyInfoPem() }))).StatusCode);
        var revision = await RevisionAsync(database, tenant.Id);

        var again = await client.PostAsync(Url("/v1/tenants/acme/raw-public-keys"), Json(new { key = Convert.ToBase64String(ec.ExportSubjectPublicKeyInfo()), name = "copy" }));
        var otherTenant = await client.PostAsync(Url("/v1/tenants/beta/raw-public-keys"), Json(new { key = ec.ExportSubjectPublicKeyInfoPem() }));

        await AssertProblemAsync(again, HttpStatusCode.Conflict, ErrorCodes.RawPublicKeyTaken, "key");
        Assert.Equal(HttpStatusCode.Created, otherTenant.StatusCode);
        Assert.Equal(revision, await RevisionAsync(database, tenant.Id));
        Assert.Single((await ReadAsync<Page<RawPublicKeyResponse>>(await client.GetAsync(Url("/v1/tenants/acme/raw-public-keys"))))!.Items);
    }

    [Fact]
    public async Task Create_BadInput_AnswersItsOwnCodeWritesNothingAndNeverEchoesAPrivateKey()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme");
        var revision = await RevisionAsync(database, tenant.Id);
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var rsa1024 = RSA.Create(1024);
        var privatePem = ec.ExportPkcs8PrivateKeyPem();
        var privateDer = Convert.ToBase64String(ec.ExportPkcs8PrivateKey());
        var cases = new (object Body, string Code, string Field)[]
        {
            (new { key = privatePem }, ErrorCodes.PrivateKeyRefused, "key"),
            (new { key = privateDer, name = "oops" }, ErrorCodes.PrivateKeyRefused, "key"),
            (new { key = rsa1024.ExportSubjectPublicKeyInfoPem() }, ErrorCodes.RawPublicKeyNotAllowed, "key"),
            (new { key = "not a key" }, ErrorCodes.RawPublicKeyInvalid, "key"),
            (new { key = new string('A', 200_000) }, ErrorCodes.RawPublicKeyInvalid, "key"),
            (new { key = "" }, ErrorCodes.ValidationFailed, "key"),
            (new { key = ec.ExportSubjectPublicKeyInfoPem(), name = new string('n', 65) }, ErrorCodes.ValidationFailed, "name"),
            (new { key = ec.ExportSubjectPublicKeyInfoPem(), name = "tab\there" }, ErrorCodes.ValidationFailed, "name"),
        };

        foreach (var (body, code, field) in cases)
        {
            var response = await client.PostAsync(Url("/v1/tenants/acme/raw-public-keys"), Json(body));
            var text = await response.Content.ReadAsStringAsync();
            await AssertProblemAsync(response, HttpStatusCode.BadRequest, code, field);
            Assert.DoesNotContain(privateDer[..40], text, StringComparison.Ordinal);
            Assert.DoesNotContain(privatePem.Split('\n')[1][..40], text, StringComparison.Ordinal);
        }

        await AssertProblemAsync(await client.PostAsync(Url("/v1/tenants/acme/raw-public-keys"), RawJson("""{"name":"x"}""")),
            HttpStatusCode.BadRequest, ErrorCodes.ValidationFailed, "key");
        await AssertProblemAsync(await client.PostAsync(Url("/v1/tenants/acme/raw-public-keys"), RawJson("""{"key":"x","fingerprint":"y"}""")),
            HttpStatusCode.BadRequest, ErrorCodes.MalformedBody);
        await AssertProblemAsync(await client.GetAsync(Url("/v1/tenants/acme/raw-public-keys/not-an-id")), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM raw_public_keys"));
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM audit_log WHERE action LIKE 'raw_public_key.%'"));
        Assert.Equal(revision, await RevisionAsync(database, tenant.Id));
    }

    [Fact]
    public async Task Create_BeyondThePlatformLimit_Answers409QuotaExceeded()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, new Dictionary<string, string?> { ["Platform:MaxRawPublicKeysPerTenant"] = "2" });
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "acme");
        await CreateTenantAsync(client, "beta");
        for (var i = 0; i < 2; i++)
        {
            using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            Assert.Equal(HttpStatusCode.Created, (await client.PostAsync(Url("/v1/tenants/acme/raw-public-keys"), Json(new { key = ec.ExportSubjectPublicKeyInfoPem() }))).StatusCode);
        }

        using var third = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var refused = await client.PostAsync(Url("/v1/tenants/acme/raw-public-keys"), Json(new { key = third.ExportSubjectPublicKeyInfoPem() }));
        var elsewhere = await client.PostAsync(Url("/v1/tenants/beta/raw-public-keys"), Json(new { key = third.ExportSubjectPublicKeyInfoPem() }));

        await AssertProblemAsync(refused, HttpStatusCode.Conflict, ErrorCodes.QuotaExceeded, "rawPublicKeys");
        Assert.Equal(HttpStatusCode.Created, elsewhere.StatusCode);
        Assert.Equal(2, (await ReadAsync<Page<RawPublicKeyResponse>>(await client.GetAsync(Url("/v1/tenants/acme/raw-public-keys"))))!.Total);
    }

    [Fact]
    public async Task Create_FloodOfConcurrentKeys_StopsExactlyAtTheLimit()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, new Dictionary<string, string?> { ["Platform:MaxRawPublicKeysPerTenant"] = "5" });
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "acme");
        var pems = Enumerable.Range(0, 20).Select(_ =>
        {
            using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            return ec.ExportSubjectPublicKeyInfoPem();
        }).ToList();

        var responses = await Task.WhenAll(pems.Select(pem => client.PostAsync(Url("/v1/tenants/acme/raw-public-keys"), Json(new { key = pem }))));

        Assert.Equal(5, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        foreach (var refused in responses.Where(r => r.StatusCode != HttpStatusCode.Created))
        {
            await AssertProblemAsync(refused, HttpStatusCode.Conflict, ErrorCodes.QuotaExceeded, "rawPublicKeys");
        }

        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        Assert.Equal(5, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM raw_public_keys"));
        Assert.Equal(5, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM audit_log WHERE action = 'raw_public_key.create'"));
    }

    [Fact]
    public async Task TenantKey_OtherTenantsKeys_AreNotFoundByIdOrFingerprintAndUntouched()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var operatorClient = silo.OperatorClient();
        await CreateTenantAsync(operatorClient, "acme");
        await CreateTenantAsync(operatorClient, "beta");
        using var betaKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var beta = (await ReadAsync<RawPublicKeyResponse>(await operatorClient.PostAsync(
            Url("/v1/tenants/beta/raw-public-keys"), Json(new { key = betaKey.ExportSubjectPublicKeyInfoPem() }))))!;
        var acme = silo.ClientWith((await CreateKeyAsync(operatorClient, "acme")).Secret);
        using var acmeKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        Assert.Equal(HttpStatusCode.Created, (await acme.PostAsync(Url("/v1/tenants/acme/raw-public-keys"), Json(new { key = acmeKey.ExportSubjectPublicKeyInfoPem() }))).StatusCode);
        foreach (var response in new[]
        {
            await acme.GetAsync(Url("/v1/tenants/beta/raw-public-keys")),
            await acme.GetAsync(Url($"/v1/tenants/beta/raw-public-keys/{beta.Id}")),
            await acme.GetAsync(Url($"/v1/tenants/beta/raw-public-keys/{beta.Fingerprint}")),
            await acme.DeleteAsync(Url($"/v1/tenants/beta/raw-public-keys/{beta.Id}")),
            await acme.PostAsync(Url("/v1/tenants/beta/raw-public-keys"), Json(new { key = acmeKey.ExportSubjectPublicKeyInfoPem() })),
            await acme.GetAsync(Url($"/v1/tenants/acme/raw-public-keys/{beta.Id}")),
            await acme.GetAsync(Url($"/v1/tenants/acme/raw-public-keys/{beta.Fingerprint}")),
            await acme.DeleteAsync(Url($"/v1/tenants/acme/raw-public-keys/{beta.Id}")),
            await acme.DeleteAsync(Url($"/v1/tenants/acme/raw-public-keys/{beta.Fingerprint}")),
        })
        {
            await AssertProblemAsync(response, HttpStatusCode.NotFound, ErrorCodes.NotFound);
        }

        var betaList = (await ReadAsync<Page<RawPublicKeyResponse>>(await operatorClient.GetAsync(Url("/v1/tenants/beta/raw-public-keys"))))!;
        Assert.Equal([beta.Id], betaList.Items.Select(i => i.Id).ToArray());
    }

    private static async Task<long> RevisionAsync(TestDatabase database, Guid tenantId)
    {
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<long>("SELECT revision FROM tenants WHERE id = @tenantId", new { tenantId });
    }
}
