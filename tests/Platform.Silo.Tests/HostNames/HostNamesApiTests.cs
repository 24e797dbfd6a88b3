using System.Net;
using System.Text.Json;
using Dapper;
using Platform.Contracts.Config;
using Platform.Contracts.HostNames;
using Platform.Contracts.Tenants;
using Platform.Silo.Tests.Certificates;
using Platform.Silo.Tests.Internal;
using Platform.Silo.Tests.Tenants;
using Platform.Testing;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.HostNames;

/// <summary>Host names are proven, not claimed: against a real silo over PostgreSQL, with a real dnsmasq for DNS.</summary>
public sealed class HostNamesApiTests
{
    [Fact]
    public async Task Claim_NameUnderAnotherTenantsVerifiedWildcard_Returns409Everywhere()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "bigcorp");
        await UploadAsync(client, "bigcorp", "*.bigcorp.com");
        await HostNameApproval.ApproveAsync(client, "bigcorp", "*.bigcorp.com");
        await CreateTenantAsync(client, "squatter");

        var config = await PutHostNamesAsync(client, "squatter", "api.bigcorp.com");
        var deeper = await PutHostNamesAsync(client, "squatter", "eu.api.bigcorp.com");
        var certificate = await client.PostAsync(Url("/v1/tenants/squatter/certificates"), Json(new { pem = Pem("api.bigcorp.com") }));
        var created = await client.PostAsync(Url("/v1/tenants"), Json(new { slug = "late", displayName = "Late", config = new { hostNames = new[] { "api.bigcorp.com" } } }));

        await AssertProblemAsync(config, HttpStatusCode.Conflict, "host_name_taken", "hostNames[0]");
        Assert.Contains("*.bigcorp.com", await config.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await AssertProblemAsync(deeper, HttpStatusCode.Conflict, "host_name_taken", "hostNames[0]");
        await AssertProblemAsync(certificate, HttpStatusCode.Conflict, "host_name_taken", "pem");
        await AssertProblemAsync(created, HttpStatusCode.Conflict, "host_name_taken", "config.hostNames[0]");
        Assert.DoesNotContain(await HostNamesAsync(client, "squatter"), n => n.Name.Contains("bigcorp", StringComparison.Ordinal));
        Assert.Equal(["squatter.platform.test"], (await TenantAsync(client, "squatter")).HostNames);
    }

    [Fact]
    public async Task Claim_WildcardOverAnotherTenantsVerifiedName_Returns409()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "owner", new { hostNames = new[] { "api.bigcorp.com", "x.y.other.example" } });
        await HostNameApproval.ApproveAsync(client, "owner", "api.bigcorp.com", "x.y.other.example");
        await CreateTenantAsync(client, "squatter");

        var wildcard = await PutHostNamesAsync(client, "squatter", "*.bigcorp.com");
        var overDeeper = await PutHostNamesAsync(client, "squatter", "*.other.example");
        var certificate = await client.PostAsync(Url("/v1/tenants/squatter/certificates"), Json(new { pem = Pem("*.bigcorp.com") }));
        var sibling = await PutHostNamesAsync(client, "squatter", "*.api.bigcorp.com", "bigcorp.com");

        await AssertProblemAsync(wildcard, HttpStatusCode.Conflict, "host_name_taken", "hostNames[0]");
        Assert.Contains("api.bigcorp.com", await wildcard.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await AssertProblemAsync(overDeeper, HttpStatusCode.Conflict, "host_name_taken", "hostNames[0]");
        await AssertProblemAsync(certificate, HttpStatusCode.Conflict, "host_name_taken", "pem");
        // Names beside the verified one (the parent, a wildcard under it) are not covered by it, so they may be claimed.
        Assert.Equal(HttpStatusCode.OK, sibling.StatusCode);
    }

    [Fact]
    public async Task Claim_SameNameByTwoTenants_BothPendingUntilTheRealOwnerVerifies()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "squatter", new { hostNames = new[] { "victim.example.com" } });

        var owner = await CreateTenantAsync(client, "owner", new { hostNames = new[] { "victim.example.com" } });

        var squatterClaim = Assert.Single(await HostNamesAsync(client, "squatter"), n => n.Name == "victim.example.com");
        var ownerClaim = Assert.Single(await HostNamesAsync(client, "owner"), n => n.Name == "victim.example.com");
        Assert.Equal(HostNameStatuses.Pending, ownerClaim.Status);
        Assert.NotEqual(squatterClaim.ChallengeToken, ownerClaim.ChallengeToken);
        Assert.Equal(["owner.platform.test"], owner.HostNames);

        await HostNameApproval.ApproveAsync(client, "owner", "victim.example.com");
        var late = await client.PostAsync(Url("/v1/tenants/squatter/host-names/victim.example.com/approve"), null);

        await AssertProblemAsync(late, HttpStatusCode.Conflict, "host_name_taken", "name");
        Assert.Equal(["owner.platform.test", "victim.example.com"], (await TenantAsync(client, "owner")).HostNames);
        Assert.Equal(["squatter.platform.test"], (await TenantAsync(client, "squatter")).HostNames);
    }

    [Fact]
    public async Task Certificate_SelfSignedForVictimName_StaysPendingAndIsNotInTheWatchSnapshot()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme");

        await UploadAsync(client, "acme", "victim.example.com");

        var claims = await HostNamesAsync(client, "acme");
        var victim = Assert.Single(claims, n => n.Name == "victim.example.com");
        Assert.Equal(HostNameStatuses.Pending, victim.Status);
        Assert.Equal([HostNameSources.Certificate], victim.Sources);
        Assert.Equal("_platform-challenge.victim.example.com", victim.ChallengeRecord);
        Assert.Matches("^[0-9a-f]{64}$", victim.ChallengeToken!);
        Assert.Null(victim.VerifiedBy);
        var platform = Assert.Single(claims, n => n.Name == "acme.platform.test");
        Assert.Equal((HostNameStatuses.Verified, "platform", (string?)null), (platform.Status, platform.VerifiedBy, platform.ChallengeToken));
        Assert.Equal(["acme.platform.test"], (await TenantAsync(client, "acme")).HostNames);
        var snapshot = Assert.Single((await silo.WatchAsync(0)).Tenants, t => t.Id == tenant.Id);
        Assert.Equal(["acme.platform.test"], snapshot.HostNames);
        Assert.Equal(["victim.example.com"], Assert.Single(snapshot.Certificates).HostNames);
    }

    [Fact]
    public async Task Verify_TxtRecordHoldsToken_VerifiesRoutesAuditsAndBumpsRevision()
    {
        var port = FreePorts.TcpAndUdp();
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, new Dictionary<string, string?> { ["Platform:DnsServers:0"] = $"127.0.0.1:{port}" });
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme", new { hostNames = new[] { "victim.example.com", "*.devices.example.net" } });
        var claims = await HostNamesAsync(client, "acme");
        var exact = claims.Single(n => n.Name == "victim.example.com");
        var wildcard = claims.Single(n => n.Name == "*.devices.example.net");
        Assert.Equal("_platform-challenge.devices.example.net", wildcard.ChallengeRecord);
        await using var dns = await Dnsmasq.StartAsync(
            [Dnsmasq.Txt(exact.ChallengeRecord!, exact.ChallengeToken!), Dnsmasq.Txt(wildcard.ChallengeRecord!, wildcard.ChallengeToken!)],
            ["example.com", "example.net"], port: port);
        var before = (await silo.WatchAsync(0)).Revision;

        using var tenantClient = await TenantKeyFixture.ClientForAsync(silo, tenant.Id);
        var response = await tenantClient.PostAsync(Url("/v1/tenants/acme/host-names/victim.example.com/verify"), null);
        var second = await client.PostAsync(Url($"/v1/tenants/acme/host-names/{Uri.EscapeDataString("*.devices.example.net")}/verify"), null);

        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync() + dns.Log);
        var verified = (await ReadAsync<HostNameResponse>(response))!;
        Assert.Equal((HostNameStatuses.Verified, "dns"), (verified.Status, verified.VerifiedBy));
        Assert.NotNull(verified.VerifiedAt);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(["*.devices.example.net", "acme.platform.test", "victim.example.com"], (await TenantAsync(client, "acme")).HostNames);
        var watch = await silo.WatchAsync(before);
        Assert.Equal(["*.devices.example.net", "acme.platform.test", "victim.example.com"], Assert.Single(watch.Tenants).HostNames.Order(StringComparer.Ordinal));
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        var audit = (await connection.QueryAsync<(string Action, string Target)>(
            "SELECT action, target FROM audit_log WHERE tenant_id = @Id AND action LIKE 'host_name.%' ORDER BY id", new { tenant.Id })).ToList();
        Assert.Equal([("host_name.verify", "victim.example.com"), ("host_name.verify", "*.devices.example.net")], audit);
        Assert.Contains("_platform-challenge.victim.example.com", dns.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_RecordMissingOrHoldingAnotherTenantsToken_Returns409AndStoresWhatWasFound()
    {
        var port = FreePorts.TcpAndUdp();
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, new Dictionary<string, string?> { ["Platform:DnsServers:0"] = $"127.0.0.1:{port}" });
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "owner", new { hostNames = new[] { "victim.example.com" } });
        await CreateTenantAsync(client, "squatter", new { hostNames = new[] { "victim.example.com", "nothing.example.com" } });
        var ownerToken = (await HostNamesAsync(client, "owner")).Single(n => n.Name == "victim.example.com").ChallengeToken!;
        // The real owner published its token; the squatter can read it, but its own claim has another token.
        await using var dns = await Dnsmasq.StartAsync([Dnsmasq.Txt("_platform-challenge.victim.example.com", ownerToken)], ["example.com"], port: port);

        var squatter = await client.PostAsync(Url("/v1/tenants/squatter/host-names/victim.example.com/verify"), null);
        var missing = await client.PostAsync(Url("/v1/tenants/squatter/host-names/nothing.example.com/verify"), null);
        var owner = await client.PostAsync(Url("/v1/tenants/owner/host-names/victim.example.com/verify"), null);

        await AssertProblemAsync(squatter, HttpStatusCode.Conflict, "host_name_unverified");
        Assert.Contains("other values", await ProblemDetailAsync(squatter), StringComparison.Ordinal);
        await AssertProblemAsync(missing, HttpStatusCode.Conflict, "host_name_unverified");
        Assert.Contains("No TXT record at _platform-challenge.nothing.example.com", await ProblemDetailAsync(missing), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, owner.StatusCode);
        var squatterClaims = await HostNamesAsync(client, "squatter");
        Assert.All(squatterClaims.Where(n => n.Name != "squatter.platform.test"), n => Assert.Equal(HostNameStatuses.Pending, n.Status));
        Assert.Contains("other values", squatterClaims.Single(n => n.Name == "victim.example.com").LastCheck, StringComparison.Ordinal);
        Assert.Equal(["squatter.platform.test"], (await TenantAsync(client, "squatter")).HostNames);
    }

    [Fact]
    public async Task Verify_DnsServerUnreachable_Returns409NamingADnsFailure()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "acme", new { hostNames = new[] { "victim.example.com" } });

        var response = await client.PostAsync(Url("/v1/tenants/acme/host-names/victim.example.com/verify"), null);

        await AssertProblemAsync(response, HttpStatusCode.Conflict, "host_name_unverified");
        Assert.Contains("DNS failure", await ProblemDetailAsync(response), StringComparison.Ordinal);
        Assert.StartsWith("DNS failure", (await HostNamesAsync(client, "acme")).Single(n => n.Name == "victim.example.com").LastCheck, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_RepeatedChecks_AreBoundedPerTenantWith429()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, new Dictionary<string, string?> { ["Platform:HostNameChecksPerMinute"] = "2" });
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "acme", new { hostNames = new[] { "a.example.com", "b.example.com" } });
        await CreateTenantAsync(client, "other", new { hostNames = new[] { "c.example.com" } });

        var first = await client.PostAsync(Url("/v1/tenants/acme/host-names/a.example.com/verify"), null);
        var second = await client.PostAsync(Url("/v1/tenants/acme/host-names/b.example.com/verify"), null);
        var third = await client.PostAsync(Url("/v1/tenants/acme/host-names/a.example.com/verify"), null);
        var otherTenant = await client.PostAsync(Url("/v1/tenants/other/host-names/c.example.com/verify"), null);

        Assert.Equal(HttpStatusCode.Conflict, first.StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, second.StatusCode);
        await AssertProblemAsync(third, HttpStatusCode.TooManyRequests, "rate_limited");
        Assert.InRange(int.Parse(third.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture), 1, 60);
        Assert.Equal(HttpStatusCode.Conflict, otherTenant.StatusCode);
    }

    [Fact]
    public async Task Approve_ByTenantKey403_ByOperatorVerifiesAndAudits()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme", new { hostNames = new[] { "devices.example.com" } });
        using var tenantClient = await TenantKeyFixture.ClientForAsync(silo, tenant.Id);

        var byTenant = await tenantClient.PostAsync(Url("/v1/tenants/acme/host-names/devices.example.com/approve"), null);
        var stillPending = (await HostNamesAsync(tenantClient, "acme")).Single(n => n.Name == "devices.example.com");
        var byOperator = await client.PostAsync(Url("/v1/tenants/acme/host-names/devices.example.com/approve"), null);

        await AssertProblemAsync(byTenant, HttpStatusCode.Forbidden, "forbidden");
        Assert.Equal(HostNameStatuses.Pending, stillPending.Status);
        Assert.Equal(HttpStatusCode.OK, byOperator.StatusCode);
        var approved = (await ReadAsync<HostNameResponse>(byOperator))!;
        Assert.Equal((HostNameStatuses.Verified, "operator"), (approved.Status, approved.VerifiedBy));
        Assert.Equal(["acme.platform.test", "devices.example.com"], (await TenantAsync(client, "acme")).HostNames);
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>(
            "SELECT count(*) FROM audit_log WHERE tenant_id = @Id AND action = 'host_name.approve' AND target = 'devices.example.com' AND revision_after IS NOT NULL",
            new { tenant.Id }));
    }

    [Fact]
    public async Task HostNames_OfAnotherTenant_Answer404()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var acme = await CreateTenantAsync(client, "acme");
        await CreateTenantAsync(client, "beta", new { hostNames = new[] { "beta.example.com" } });
        using var acmeClient = await TenantKeyFixture.ClientForAsync(silo, acme.Id);

        var list = await acmeClient.GetAsync(Url("/v1/tenants/beta/host-names"));
        var verify = await acmeClient.PostAsync(Url("/v1/tenants/beta/host-names/beta.example.com/verify"), null);
        var unclaimed = await client.PostAsync(Url("/v1/tenants/acme/host-names/beta.example.com/approve"), null);

        await AssertProblemAsync(list, HttpStatusCode.NotFound, "not_found");
        await AssertProblemAsync(verify, HttpStatusCode.NotFound, "not_found");
        await AssertProblemAsync(unclaimed, HttpStatusCode.NotFound, "not_found");
        Assert.DoesNotContain("beta.example.com", await list.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("*.co.uk")]
    [InlineData("*.com")]
    [InlineData("*.github.io")]
    [InlineData("*.CO.UK")]
    public async Task Claim_WildcardDirectlyUnderPublicSuffix_Returns400PublicSuffix(string wildcard)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "acme");

        var config = await PutHostNamesAsync(client, "acme", "ok.example.com", wildcard);
        var created = await client.PostAsync(Url("/v1/tenants"), Json(new { slug = "beta", displayName = "Beta", config = new { hostNames = new[] { wildcard } } }));
        var certificate = await client.PostAsync(Url("/v1/tenants/acme/certificates"), Json(new { pem = Pem("ok.example.com", wildcard.ToLowerInvariant()) }));

        await AssertFieldCodeAsync(config, "hostNames[1]", "public_suffix");
        await AssertFieldCodeAsync(created, "config.hostNames[0]", "public_suffix");
        await AssertFieldCodeAsync(certificate, "pem", "public_suffix");
        Assert.Equal(["acme.platform.test"], (await HostNamesAsync(client, "acme")).Select(n => n.Name));
    }

    [Fact]
    public async Task Claim_WildcardUnderARegistrableDomain_IsAccepted()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "acme");

        var response = await PutHostNamesAsync(client, "acme", "*.acme.co.uk", "*.acme.github.io");
        var certificate = await client.PostAsync(Url("/v1/tenants/acme/certificates"), Json(new { pem = Pem("*.iot.acme.com") }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpStatusCode.Created, certificate.StatusCode);
        Assert.Equal(["*.acme.co.uk", "*.acme.github.io", "*.iot.acme.com", "acme.platform.test"], (await HostNamesAsync(client, "acme")).Select(n => n.Name));
    }

    [Fact]
    public async Task Claims_NameNoLongerClaimed_IsRemovedAndStopsRouting()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "acme", new { hostNames = new[] { "both.example.com", "config.example.com" } });
        var certificate = await UploadAsync(client, "acme", "both.example.com", "cert.example.com");
        await HostNameApproval.ApproveAsync(client, "acme", "both.example.com", "config.example.com", "cert.example.com");

        var kept = await HostNamesAsync(client, "acme");
        Assert.Equal([HostNameSources.Certificate, HostNameSources.Config], kept.Single(n => n.Name == "both.example.com").Sources);
        Assert.Equal(HttpStatusCode.OK, (await PutHostNamesAsync(client, "acme")).StatusCode);
        var afterConfig = await HostNamesAsync(client, "acme");
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync(Url($"/v1/tenants/acme/certificates/{certificate}"))).StatusCode);
        var afterCertificate = await HostNamesAsync(client, "acme");

        Assert.Equal(["acme.platform.test", "both.example.com", "cert.example.com"], afterConfig.Select(n => n.Name));
        Assert.Equal([HostNameSources.Certificate], afterConfig.Single(n => n.Name == "both.example.com").Sources);
        Assert.Equal(["acme.platform.test"], afterCertificate.Select(n => n.Name));
        Assert.Equal(["acme.platform.test"], (await TenantAsync(client, "acme")).HostNames);
    }

    [Fact]
    public async Task Certificate_NamesUnderThePlatformDomain_OnlyTheTenantsOwnAreClaimed()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "acme");
        await CreateTenantAsync(client, "beta");

        await UploadAsync(client, "acme", "acme.platform.test", "x.acme.platform.test", "beta.platform.test", "*.platform.test", "platform.test");

        var claims = await HostNamesAsync(client, "acme");
        Assert.Equal(["acme.platform.test", "x.acme.platform.test"], claims.Select(n => n.Name));
        Assert.All(claims, n => Assert.Equal((HostNameStatuses.Verified, "platform"), (n.Status, n.VerifiedBy)));
        Assert.Equal([HostNameSources.Certificate, HostNameSources.Platform], claims[0].Sources);
        Assert.Equal(["acme.platform.test", "x.acme.platform.test"], (await TenantAsync(client, "acme")).HostNames);
        Assert.Equal(["beta.platform.test"], (await TenantAsync(client, "beta")).HostNames);
    }

    [Fact]
    public async Task Start_PublicSuffixListMissing_StopsWithAMessageNamingTheSetting()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, new Dictionary<string, string?> { ["Platform:PublicSuffixListPath"] = "/nonexistent/public_suffix_list.dat" });

        var error = Assert.ThrowsAny<Exception>(() => silo.OperatorClient());

        var message = error is AggregateException aggregate ? aggregate.Flatten().InnerExceptions[0].Message : error.Message;
        Assert.Contains("Platform:PublicSuffixListPath", message, StringComparison.Ordinal);
        Assert.Contains("publicsuffix", message, StringComparison.Ordinal);
    }

    internal static async Task<Guid> UploadAsync(HttpClient client, string slug, params string[] names)
    {
        var response = await client.PostAsync(Url($"/v1/tenants/{slug}/certificates"), Json(new { pem = Pem(names) }));
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await ReadAsync<Platform.Contracts.Certificates.CertificateResponse>(response))!.Id;
    }

    internal static string Pem(params string[] names)
    {
        using var certificate = TestCertificates.Create(DateTimeOffset.UtcNow, names, ecdsa: true, subject: "CN=" + names[0]);
        return TestCertificates.Pem(certificate);
    }

    internal static async Task<HttpResponseMessage> PutHostNamesAsync(HttpClient client, string slug, params string[] names)
    {
        var current = (await ReadAsync<ConfigResponse>(await client.GetAsync(Url($"/v1/tenants/{slug}/config"))))!;
        using var request = new HttpRequestMessage(HttpMethod.Put, Url($"/v1/tenants/{slug}/config"))
        {
            Content = Json(current.Config with { HostNames = names }),
        };
        request.Headers.TryAddWithoutValidation("If-Match", $"\"{current.Revision}\"");
        return await client.SendAsync(request);
    }

    internal static async Task<IReadOnlyList<HostNameResponse>> HostNamesAsync(HttpClient client, string slug)
    {
        var response = await client.GetAsync(Url($"/v1/tenants/{slug}/host-names"));
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return (await ReadAsync<Page<HostNameResponse>>(response))!.Items;
    }

    private static async Task<TenantResponse> TenantAsync(HttpClient client, string slug) =>
        (await ReadAsync<TenantResponse>(await client.GetAsync(Url($"/v1/tenants/{slug}"))))!;

    private static async Task<string> ProblemDetailAsync(HttpResponseMessage response)
    {
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.GetProperty("detail").GetString()!;
    }

    private static async Task AssertFieldCodeAsync(HttpResponseMessage response, string field, string code)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, body);
        using var document = JsonDocument.Parse(body);
        Assert.Equal("validation_failed", document.RootElement.GetProperty("code").GetString());
        Assert.Contains(document.RootElement.GetProperty("errors").EnumerateArray(),
            e => e.GetProperty("field").GetString() == field && e.GetProperty("code").GetString() == code);
    }
}
