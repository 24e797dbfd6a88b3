using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Platform.Contracts.Certificates;
using Platform.Contracts.Problems;
using Platform.Contracts.Tenants;
using Platform.Silo.Certificates;
using Platform.Silo.Security;
using Platform.Silo.Tests.ApiKeys;
using Platform.Testing;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.Certificates;

public sealed class CertificatesApiTests
{
    [Fact]
    public async Task Upload_RsaPem_StoresEncryptedKeyClaimsNamesBumpsRevisionAndNotifies()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme");
        using var certificate = TestCertificates.Create(DateTimeOffset.UtcNow, ["Device.Example.com", "*.iot.example.com"], subject: "CN=device.example.com");
        var pkcs8 = TestCertificates.Pkcs8(certificate);
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        var revisionBefore = await TenantRevisionAsync(connection, tenant.Id);
        await using var listener = await dataSource.OpenConnectionAsync();
        var notifications = new List<string>();
        listener.Notification += (_, e) => notifications.Add(e.Payload);
        await listener.ExecuteAsync("LISTEN config_changed");

        var response = await client.PostAsync(Url("/v1/tenants/acme/certificates"), Json(new { pem = TestCertificates.Pem(certificate) }));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = (await ReadAsync<CertificateResponse>(response))!;
        Assert.Equal($"/v1/tenants/acme/certificates/{created.Id}", response.Headers.Location?.ToString());
        Assert.Equal("CN=device.example.com", created.Subject);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(certificate.RawData)), created.Thumbprint);
        Assert.Equal(["*.iot.example.com", "device.example.com"], created.HostNames);
        Assert.Equal("RSA", created.KeyAlgorithm);
        var fetched = (await ReadAsync<CertificateResponse>(await client.GetAsync(Url($"/v1/tenants/acme/certificates/{created.Id}"))))!;
        Assert.Equal(created.HostNames, fetched.HostNames);
        Assert.Equal(created, fetched with { HostNames = created.HostNames });

        var shown = (await ReadAsync<TenantResponse>(await client.GetAsync(Url("/v1/tenants/acme"))))!;
        Assert.Equal(["acme.platform.test"], shown.HostNames);

        var stored = await connection.QuerySingleAsync<(byte[] KeyEnc, string ChainPem)>(
            "SELECT private_key_enc, chain_pem FROM certificates WHERE id = @Id AND tenant_id = @TenantId", new { created.Id, TenantId = tenant.Id });
        Assert.False(stored.KeyEnc.AsSpan().IndexOf(pkcs8.AsSpan(pkcs8.Length - 64)) >= 0, "The stored key holds plaintext PKCS#8 bytes.");
        Assert.DoesNotContain("PRIVATE KEY", Encoding.Latin1.GetString(stored.KeyEnc), StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", stored.ChainPem, StringComparison.Ordinal);
        var protector = silo.Services.GetRequiredService<SecretProtector>();
        Assert.Equal(pkcs8, protector.Unprotect(stored.KeyEnc, SecretPurposes.CertificateKey, created.Id));

        var revisionAfter = await TenantRevisionAsync(connection, tenant.Id);
        Assert.True(revisionAfter > revisionBefore);
        var audit = await connection.QuerySingleAsync<(string Actor, string Target, long Before, long After, string Details)>(
            "SELECT actor, target, revision_before, revision_after, details::text FROM audit_log WHERE tenant_id = @Id AND action = 'certificate.upload'",
            new { tenant.Id });
        Assert.Equal(("operator", created.Id.ToString(), revisionBefore, revisionAfter), (audit.Actor, audit.Target, audit.Before, audit.After));
        Assert.Contains(created.Thumbprint, audit.Details, StringComparison.Ordinal);
        Assert.Contains("device.example.com", audit.Details, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE", audit.Details, StringComparison.Ordinal);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!notifications.Contains(revisionAfter.ToString()))
        {
            await listener.WaitAsync(timeout.Token);
        }

        // The names are claims: they route once proven.
        await HostNameApproval.ApproveAsync(client, "acme", "*.iot.example.com", "device.example.com");
        shown = (await ReadAsync<TenantResponse>(await client.GetAsync(Url("/v1/tenants/acme"))))!;
        Assert.Equal(["*.iot.example.com", "acme.platform.test", "device.example.com"], shown.HostNames);
    }

    [Fact]
    public async Task Upload_EcdsaPfx_RoundTripsToGatewayMaterialWithTheSameKey()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme");
        using var root = TestCertificates.Create(DateTimeOffset.UtcNow, ["root.example.com"], ecdsa: true, isCertificateAuthority: true, subject: "CN=Root");
        using var leaf = TestCertificates.Create(DateTimeOffset.UtcNow, ["pfx.example.com"], ecdsa: true, issuer: root, freshKey: true, subject: "CN=pfx.example.com");
        using var publicRoot = X509CertificateLoader.LoadCertificate(root.RawData);
        var pfx = Convert.ToBase64String(new X509Certificate2Collection { leaf, publicRoot }.Export(X509ContentType.Pfx, "pfx password")!);

        var response = await client.PostAsync(Url("/v1/tenants/acme/certificates"), Json(new { pfx, password = "pfx password" }));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = (await ReadAsync<CertificateResponse>(response))!;
        Assert.Equal("ECDSA", created.KeyAlgorithm);
        Assert.Equal("CN=Root", created.Issuer);
        var store = silo.Services.GetRequiredService<CertificateStore>();
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        var material = Assert.Single(await store.LoadMaterialAsync(connection, tenant.Id, null, CancellationToken.None));
        Assert.Equal(created.Id, material.Id);
        Assert.Equal(["pfx.example.com"], material.HostNames);
        Assert.Equal(created.NotAfter, material.NotAfter);
        using var loaded = X509Certificate2.CreateFromPem(material.CertificateChainPem, material.PrivateKeyPem);
        Assert.Equal(leaf.Thumbprint, loaded.Thumbprint);
        using var loadedKey = loaded.GetECDsaPrivateKey()!;
        using var originalKey = leaf.GetECDsaPrivateKey()!;
        Assert.Equal(originalKey.ExportParameters(true).D, loadedKey.ExportParameters(true).D);
        var chain = new X509Certificate2Collection();
        chain.ImportFromPem(material.CertificateChainPem);
        Assert.Equal([leaf.Thumbprint, root.Thumbprint], chain.Select(c => c.Thumbprint).ToArray());

        var many = await store.LoadMaterialAsync(connection, [tenant.Id, Guid.NewGuid()], null, CancellationToken.None);
        Assert.Equal([tenant.Id], many.Keys.ToArray());
    }

    [Fact]
    public async Task Upload_NameClaimedByAnotherTenant_Returns409NamingItAndWritesNothing()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var acme = await CreateTenantAsync(client, "acme");
        await CreateTenantAsync(client, "beta", new { hostNames = new[] { "api.example.com" } });
        using var byConfig = TestCertificates.Create(DateTimeOffset.UtcNow, ["new.example.com", "api.example.com"]);
        using var byCertificate = TestCertificates.Create(DateTimeOffset.UtcNow, ["cert.example.com"]);
        using var clash = TestCertificates.Create(DateTimeOffset.UtcNow, ["other.example.com", "cert.example.com"]);
        var betaUpload = await client.PostAsync(Url("/v1/tenants/beta/certificates"), Json(new { pem = TestCertificates.Pem(byCertificate) }));
        Assert.Equal(HttpStatusCode.Created, betaUpload.StatusCode);
        await HostNameApproval.ApproveAsync(client, "beta", "api.example.com", "cert.example.com");
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        var revisionBefore = await TenantRevisionAsync(connection, acme.Id);

        var first = await client.PostAsync(Url("/v1/tenants/acme/certificates"), Json(new { pem = TestCertificates.Pem(byConfig) }));
        var second = await client.PostAsync(Url("/v1/tenants/acme/certificates"), Json(new { pem = TestCertificates.Pem(clash) }));

        await AssertProblemAsync(first, HttpStatusCode.Conflict, ErrorCodes.HostNameTaken, "pem");
        await AssertProblemAsync(second, HttpStatusCode.Conflict, ErrorCodes.HostNameTaken, "pem");
        Assert.Contains("api.example.com", await first.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Contains("cert.example.com", await second.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM certificates WHERE tenant_id = @Id", new { acme.Id }));
        Assert.Equal(["acme.platform.test"], (await connection.QueryAsync<string>(
            "SELECT host_name FROM host_name_claims WHERE tenant_id = @Id", new { acme.Id })).ToArray());
        Assert.Equal(revisionBefore, await TenantRevisionAsync(connection, acme.Id));
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>(
            "SELECT count(*) FROM audit_log WHERE tenant_id = @Id AND action LIKE 'certificate.%'", new { acme.Id }));
        var shown = (await ReadAsync<TenantResponse>(await client.GetAsync(Url("/v1/tenants/beta"))))!;
        Assert.Equal(["api.example.com", "beta.platform.test", "cert.example.com"], shown.HostNames);
    }

    [Fact]
    public async Task Upload_NameUnderThePlatformDomain_LoadsButOnlyTheTenantsOwnIsClaimed()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "acme");
        using var own = TestCertificates.Create(DateTimeOffset.UtcNow, ["acme.platform.test"]);
        using var wildcard = TestCertificates.Create(DateTimeOffset.UtcNow, ["*.platform.test"]);
        using var foreign = TestCertificates.Create(DateTimeOffset.UtcNow, ["unclaimed.platform.test"]);

        var ownResponse = await client.PostAsync(Url("/v1/tenants/acme/certificates"), Json(new { pem = TestCertificates.Pem(own) }));
        var wildcardResponse = await client.PostAsync(Url("/v1/tenants/acme/certificates"), Json(new { pem = TestCertificates.Pem(wildcard) }));
        var foreignResponse = await client.PostAsync(Url("/v1/tenants/acme/certificates"), Json(new { pem = TestCertificates.Pem(foreign) }));

        Assert.Equal(HttpStatusCode.Created, ownResponse.StatusCode);
        Assert.Equal(HttpStatusCode.Created, wildcardResponse.StatusCode);
        Assert.Equal(HttpStatusCode.Created, foreignResponse.StatusCode);
        // Other names under the platform domain route nothing: they are not even claimed.
        var shown = (await ReadAsync<TenantResponse>(await client.GetAsync(Url("/v1/tenants/acme"))))!;
        Assert.Equal(["acme.platform.test"], shown.HostNames);
        var claims = (await ReadAsync<Page<Platform.Contracts.HostNames.HostNameResponse>>(await client.GetAsync(Url("/v1/tenants/acme/host-names"))))!;
        Assert.Equal(["acme.platform.test"], claims.Items.Select(c => c.Name));
    }

    [Fact]
    public async Task Upload_Validity_IsJudgedByTheSilosClock()
    {
        await using var database = await TestDatabase.CreateAsync();
        var clock = new ManualTimeProvider(new DateTimeOffset(2025, 6, 1, 0, 0, 0, TimeSpan.Zero));
        await using var silo = new SiloApp(database) { Time = clock };
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "acme");
        // Valid for the fake clock only: by the real clock this certificate expired long ago.
        using var certificate = TestCertificates.Create(clock.GetUtcNow(), ["clock.example.com"], validFor: TimeSpan.FromDays(30));
        var pem = TestCertificates.Pem(certificate);

        var accepted = await client.PostAsync(Url("/v1/tenants/acme/certificates"), Json(new { pem }));
        clock.Advance(TimeSpan.FromDays(31));
        var expired = await client.PostAsync(Url("/v1/tenants/acme/certificates"), Json(new { pem }));

        Assert.Equal(HttpStatusCode.Created, accepted.StatusCode);
        await AssertProblemAsync(expired, HttpStatusCode.BadRequest, ErrorCodes.CertificateExpired, "pem");
    }

    [Fact]
    public async Task Upload_BadCertificates_AnswerTheirProblemCodeAndWriteNothing()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme");
        var now = DateTimeOffset.UtcNow;
        using var good = TestCertificates.Create(now, ["good.example.com"]);
        using var other = TestCertificates.Create(now, ["good.example.com"], ecdsa: true, freshKey: true);
        using var otherKey = TestCertificates.PrivateKey(other);
        using var clientOnly = TestCertificates.Create(now, ["client.example.com"], enhancedKeyUsages: [TestCertificates.ClientAuth]);
        using var noSan = TestCertificates.Create(now, null);
        using var expired = TestCertificates.Create(now, ["old.example.com"], validFrom: TimeSpan.FromDays(-60), validFor: TimeSpan.FromDays(30));
        using var future = TestCertificates.Create(now, ["new.example.com"], validFrom: TimeSpan.FromDays(5));
        var cases = new (object Body, string Code, string Field)[]
        {
            (new { pem = TestCertificates.Pem(good), pfx = TestCertificates.Pfx(good, null) }, ErrorCodes.ValidationFailed, "pfx"),
            (new { password = "x" }, ErrorCodes.ValidationFailed, "pem"),
            (new { pem = "-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n" }, ErrorCodes.CertificateInvalid, "pem"),
            (new { pem = good.ExportCertificatePem() }, ErrorCodes.CertificateNoPrivateKey, "pem"),
            (new { pem = good.ExportCertificatePem() + "\n" + otherKey.ExportPkcs8PrivateKeyPem() }, ErrorCodes.CertificateNoPrivateKey, "pem"),
            (new { pfx = TestCertificates.Pfx(good, "right"), password = "wrong" }, ErrorCodes.CertificateInvalid, "pfx"),
            (new { pem = TestCertificates.Pem(clientOnly) }, ErrorCodes.CertificateUsage, "pem"),
            (new { pem = TestCertificates.Pem(noSan) }, ErrorCodes.CertificateNoHostNames, "pem"),
            (new { pem = TestCertificates.Pem(expired) }, ErrorCodes.CertificateExpired, "pem"),
            (new { pem = TestCertificates.Pem(future) }, ErrorCodes.CertificateExpired, "pem"),
        };

        foreach (var (body, code, field) in cases)
        {
            await AssertProblemAsync(await client.PostAsync(Url("/v1/tenants/acme/certificates"), Json(body)), HttpStatusCode.BadRequest, code, field);
        }

        var malformed = await client.PostAsync(Url("/v1/tenants/acme/certificates"), RawJson("""{"pem":"x","privateKey":"y"}"""));
        await AssertProblemAsync(malformed, HttpStatusCode.BadRequest, ErrorCodes.MalformedBody);
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM certificates WHERE tenant_id = @Id", new { tenant.Id }));
    }

    [Fact]
    public async Task Delete_RemovesTheCertificateAndOnlyNamesNoOtherCertificateHolds()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme");
        using var old = TestCertificates.Create(DateTimeOffset.UtcNow, ["a.example.com", "b.example.com"]);
        using var rotated = TestCertificates.Create(DateTimeOffset.UtcNow, ["a.example.com"]);
        var oldId = (await ReadAsync<CertificateResponse>(await client.PostAsync(Url("/v1/tenants/acme/certificates"), Json(new { pem = TestCertificates.Pem(old) }))))!.Id;
        var rotatedId = (await ReadAsync<CertificateResponse>(await client.PostAsync(Url("/v1/tenants/acme/certificates"), Json(new { pem = TestCertificates.Pem(rotated) }))))!.Id;
        await HostNameApproval.ApproveAsync(client, "acme", "a.example.com", "b.example.com");
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        var revisionBefore = await TenantRevisionAsync(connection, tenant.Id);

        var deleted = await client.DeleteAsync(Url($"/v1/tenants/acme/certificates/{oldId}"));

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        await AssertProblemAsync(await client.GetAsync(Url($"/v1/tenants/acme/certificates/{oldId}")), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        await AssertProblemAsync(await client.DeleteAsync(Url($"/v1/tenants/acme/certificates/{oldId}")), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        var shown = (await ReadAsync<TenantResponse>(await client.GetAsync(Url("/v1/tenants/acme"))))!;
        Assert.Equal(["a.example.com", "acme.platform.test"], shown.HostNames);
        var revisionAfter = await TenantRevisionAsync(connection, tenant.Id);
        Assert.True(revisionAfter > revisionBefore);
        var audit = await connection.QuerySingleAsync<(string Target, long Before, long After)>(
            "SELECT target, revision_before, revision_after FROM audit_log WHERE tenant_id = @Id AND action = 'certificate.delete'", new { tenant.Id });
        Assert.Equal((oldId.ToString(), revisionBefore, revisionAfter), audit);

        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync(Url($"/v1/tenants/acme/certificates/{rotatedId}"))).StatusCode);
        shown = (await ReadAsync<TenantResponse>(await client.GetAsync(Url("/v1/tenants/acme"))))!;
        Assert.Equal(["acme.platform.test"], shown.HostNames);
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM certificates WHERE tenant_id = @Id", new { tenant.Id }));
    }

    [Fact]
    public async Task List_PagesTheTenantsCertificates()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "acme");
        await CreateTenantAsync(client, "beta");
        var ids = new List<Guid>();
        foreach (var name in new[] { "one.example.com", "two.example.com", "three.example.com" })
        {
            using var certificate = TestCertificates.Create(DateTimeOffset.UtcNow, [name], ecdsa: true);
            var response = await client.PostAsync(Url("/v1/tenants/acme/certificates"), Json(new { pem = TestCertificates.Pem(certificate) }));
            ids.Add((await ReadAsync<CertificateResponse>(response))!.Id);
        }

        var all = (await ReadAsync<Page<CertificateResponse>>(await client.GetAsync(Url("/v1/tenants/acme/certificates"))))!;
        var page = (await ReadAsync<Page<CertificateResponse>>(await client.GetAsync(Url("/v1/tenants/acme/certificates?offset=1&limit=1"))))!;
        var none = (await ReadAsync<Page<CertificateResponse>>(await client.GetAsync(Url("/v1/tenants/beta/certificates"))))!;

        Assert.Equal(ids, all.Items.Select(c => c.Id).ToList());
        Assert.Equal(3, all.Total);
        Assert.Equal([ids[1]], page.Items.Select(c => c.Id).ToArray());
        Assert.Equal((3L, 1, 1), (page.Total, page.Offset, page.Limit));
        Assert.Empty(none.Items);
        await AssertProblemAsync(await client.GetAsync(Url("/v1/tenants/acme/certificates?limit=0")), HttpStatusCode.BadRequest, ErrorCodes.ValidationFailed, "limit");
        await AssertProblemAsync(await client.GetAsync(Url("/v1/tenants/acme/certificates?offset=-1")), HttpStatusCode.BadRequest, ErrorCodes.ValidationFailed, "offset");
        await AssertProblemAsync(await client.GetAsync(Url("/v1/tenants/acme/certificates/not-a-guid")), HttpStatusCode.NotFound, ErrorCodes.NotFound);
        await AssertProblemAsync(await client.GetAsync(Url("/v1/tenants/nobody/certificates")), HttpStatusCode.NotFound, ErrorCodes.NotFound);
    }

    [Fact]
    public async Task TenantKey_OtherTenantsCertificates_AreNotFoundAndUntouched()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var operatorClient = silo.OperatorClient();
        await CreateTenantAsync(operatorClient, "acme");
        await CreateTenantAsync(operatorClient, "beta");
        using var betaCertificate = TestCertificates.Create(DateTimeOffset.UtcNow, ["beta.example.com"]);
        using var acmeCertificate = TestCertificates.Create(DateTimeOffset.UtcNow, ["acme.example.com"]);
        var betaId = (await ReadAsync<CertificateResponse>(await operatorClient.PostAsync(
            Url("/v1/tenants/beta/certificates"), Json(new { pem = TestCertificates.Pem(betaCertificate) }))))!.Id;
        var acme = silo.ClientWith((await ApiKeyTestClient.CreateKeyAsync(operatorClient, "acme")).Secret);

        var ownUpload = await acme.PostAsync(Url("/v1/tenants/acme/certificates"), Json(new { pem = TestCertificates.Pem(acmeCertificate) }));

        Assert.Equal(HttpStatusCode.Created, ownUpload.StatusCode);
        foreach (var response in new[]
        {
            await acme.GetAsync(Url("/v1/tenants/beta/certificates")),
            await acme.GetAsync(Url($"/v1/tenants/beta/certificates/{betaId}")),
            await acme.DeleteAsync(Url($"/v1/tenants/beta/certificates/{betaId}")),
            await acme.PostAsync(Url("/v1/tenants/beta/certificates"), Json(new { pem = TestCertificates.Pem(acmeCertificate) })),
            await acme.GetAsync(Url($"/v1/tenants/acme/certificates/{betaId}")),
            await acme.DeleteAsync(Url($"/v1/tenants/acme/certificates/{betaId}")),
        })
        {
            await AssertProblemAsync(response, HttpStatusCode.NotFound, ErrorCodes.NotFound);
        }

        Assert.Equal(HttpStatusCode.OK, (await operatorClient.GetAsync(Url($"/v1/tenants/beta/certificates/{betaId}"))).StatusCode);
        var mine = (await ReadAsync<Page<CertificateResponse>>(await acme.GetAsync(Url("/v1/tenants/acme/certificates"))))!;
        Assert.Equal(["acme.example.com"], Assert.Single(mine.Items).HostNames);
    }

    private static Task<long> TenantRevisionAsync(NpgsqlConnection connection, Guid tenantId) =>
        connection.ExecuteScalarAsync<long>("SELECT revision FROM tenants WHERE id = @tenantId", new { tenantId });
}
