using System.Net;
using Platform.Contracts.Audit;
using Platform.Contracts.Tenants;
using Platform.Silo.Tests.Tenants;
using Platform.Testing;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.Audit;

public sealed class AuditApiTests
{
    [Fact]
    public async Task List_NewestFirst_RecordsActorActionAndRevisions()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        client.DefaultRequestHeaders.Add("X-Operator-Name", "ada");
        var tenant = await CreateTenantAsync(client, "acme");
        await client.PostAsync(Url("/v1/tenants/acme/suspend"), null);

        var page = (await ReadAsync<Page<AuditEntryResponse>>(await client.GetAsync(Url("/v1/audit"))))!;

        Assert.Equal(2, page.Total);
        Assert.Equal(["tenant.suspend", "tenant.create"], page.Items.Select(e => e.Action));
        Assert.All(page.Items, e => Assert.Equal("operator:ada", e.Actor));
        Assert.All(page.Items, e => Assert.Equal("acme", e.TenantSlug));
        var suspend = page.Items[0];
        Assert.Equal(tenant.ConfigRevision, suspend.RevisionBefore);
        Assert.True(suspend.RevisionAfter > suspend.RevisionBefore);
        Assert.Null(page.Items[1].RevisionBefore);
        Assert.Equal(tenant.ConfigRevision, page.Items[1].RevisionAfter);
        Assert.Contains("Tenant acme", page.Items[1].Details, StringComparison.Ordinal);
        Assert.True(page.Items[0].Id > page.Items[1].Id);
    }

    [Fact]
    public async Task List_FilterByTenantAndActor_AndPage()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "alpha");
        var bravo = await CreateTenantAsync(client, "bravo");
        await client.PostAsync(Url("/v1/tenants/alpha/suspend"), null);
        await client.PostAsync(Url("/v1/tenants/alpha/resume"), null);
        var keyClient = await TenantKeyFixture.ClientForAsync(silo, bravo.Id);
        await keyClient.PostAsync(Url("/v1/tenants/bravo/ports"), Json(new { protocol = "tcp" }));

        var alpha = (await ReadAsync<Page<AuditEntryResponse>>(await client.GetAsync(Url("/v1/audit?tenant=alpha"))))!;
        var alphaPage = (await ReadAsync<Page<AuditEntryResponse>>(await client.GetAsync(Url("/v1/audit?tenant=alpha&offset=1&limit=1"))))!;
        var byKey = (await ReadAsync<Page<AuditEntryResponse>>(await client.GetAsync(Url("/v1/audit?actor=operator"))))!;

        Assert.Equal(["tenant.resume", "tenant.suspend", "tenant.create"], alpha.Items.Select(e => e.Action));
        Assert.Equal(3, alphaPage.Total);
        Assert.Equal(["tenant.suspend"], alphaPage.Items.Select(e => e.Action));
        Assert.Equal(4, byKey.Total);
        Assert.DoesNotContain(byKey.Items, e => e.Action == "port.allocate");
    }

    [Fact]
    public async Task TenantAudit_TenantKeySeesOnlyOwnEntries()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var alpha = await CreateTenantAsync(client, "alpha");
        await CreateTenantAsync(client, "bravo");
        await client.PostAsync(Url("/v1/tenants/bravo/suspend"), null);
        var keyClient = await TenantKeyFixture.ClientForAsync(silo, alpha.Id);

        var own = await keyClient.GetAsync(Url("/v1/tenants/alpha/audit"));
        var other = await keyClient.GetAsync(Url("/v1/tenants/bravo/audit"));
        var operatorView = (await ReadAsync<Page<AuditEntryResponse>>(await client.GetAsync(Url("/v1/tenants/bravo/audit"))))!;

        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        var ownPage = (await ReadAsync<Page<AuditEntryResponse>>(own))!;
        Assert.Equal(["tenant.create"], ownPage.Items.Select(e => e.Action));
        Assert.All(ownPage.Items, e => Assert.Equal("alpha", e.TenantSlug));
        await AssertProblemAsync(other, HttpStatusCode.NotFound, "not_found");
        Assert.Equal(["tenant.suspend", "tenant.create"], operatorView.Items.Select(e => e.Action));
    }

    [Fact]
    public async Task TenantAudit_SlugReusedAfterDelete_ShowsOnlyTheCurrentTenantsEntries()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "acme");
        await client.DeleteAsync(Url("/v1/tenants/acme"));
        await CreateTenantAsync(client, "acme");

        var tenantView = (await ReadAsync<Page<AuditEntryResponse>>(await client.GetAsync(Url("/v1/tenants/acme/audit"))))!;
        var operatorView = (await ReadAsync<Page<AuditEntryResponse>>(await client.GetAsync(Url("/v1/audit?tenant=acme"))))!;

        Assert.Equal(["tenant.create"], tenantView.Items.Select(e => e.Action));
        Assert.Equal(["tenant.create", "tenant.delete", "tenant.create"], operatorView.Items.Select(e => e.Action));
    }

    [Theory]
    [InlineData("/v1/audit?limit=0", "limit")]
    [InlineData("/v1/audit?offset=x", "offset")]
    [InlineData("/v1/tenants/acme/audit?limit=1001", "limit")]
    [InlineData("/v1/audit?actor=%01", "actor")]
    public async Task List_BadQuery_Returns400NamingTheParameter(string path, string field)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await CreateTenantAsync(silo.OperatorClient(), "acme");

        var response = await silo.OperatorClient().GetAsync(Url(path));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed", field);
    }
}
