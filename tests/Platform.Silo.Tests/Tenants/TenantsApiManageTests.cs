using System.Net;
using Dapper;
using Platform.Contracts.Tenants;
using Platform.Testing;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.Tenants;

public sealed class TenantsApiManageTests
{
    [Fact]
    public async Task List_PagesOrderedBySlug_WithTotal()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        foreach (var slug in new[] { "delta", "alpha", "echo", "charlie", "bravo" })
        {
            await CreateTenantAsync(client, slug);
        }

        var first = (await ReadAsync<Page<TenantResponse>>(await client.GetAsync(Url("/v1/tenants?limit=2"))))!;
        var second = (await ReadAsync<Page<TenantResponse>>(await client.GetAsync(Url("/v1/tenants?offset=2&limit=2"))))!;
        var last = (await ReadAsync<Page<TenantResponse>>(await client.GetAsync(Url("/v1/tenants?offset=4&limit=2"))))!;
        var all = (await ReadAsync<Page<TenantResponse>>(await client.GetAsync(Url("/v1/tenants"))))!;

        Assert.Equal(["alpha", "bravo"], first.Items.Select(t => t.Slug));
        Assert.Equal(["charlie", "delta"], second.Items.Select(t => t.Slug));
        Assert.Equal(["echo"], last.Items.Select(t => t.Slug));
        Assert.All(new[] { first, second, last }, p => Assert.Equal(5, p.Total));
        Assert.Equal((2, 2), (second.Offset, second.Limit));
        Assert.Equal(Platform.Silo.Api.Paging.DefaultLimit, all.Limit);
        Assert.Equal(5, all.Items.Count);
        Assert.Equal(["alpha.platform.test"], all.Items[0].HostNames);
    }

    [Fact]
    public async Task List_Search_MatchesSlugOrDisplayNameCaseInsensitively()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        await client.PostAsync(Url("/v1/tenants"), Json(new { slug = "acme", displayName = "Road Runner Supplies" }));
        await client.PostAsync(Url("/v1/tenants"), Json(new { slug = "runner-co", displayName = "Other" }));
        await client.PostAsync(Url("/v1/tenants"), Json(new { slug = "zeta", displayName = "Zeta" }));

        var page = (await ReadAsync<Page<TenantResponse>>(await client.GetAsync(Url("/v1/tenants?search=RUNNER"))))!;

        Assert.Equal(["acme", "runner-co"], page.Items.Select(t => t.Slug));
        Assert.Equal(2, page.Total);
    }

    [Theory]
    [InlineData("%")]
    [InlineData("_")]
    [InlineData("a%25e")]
    public async Task List_SearchWithLikeWildcards_MatchesLiterally(string search)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "acme");
        await client.PostAsync(Url("/v1/tenants"), Json(new { slug = "pct", displayName = "100% uptime_" }));

        var page = (await ReadAsync<Page<TenantResponse>>(await client.GetAsync(Url($"/v1/tenants?search={search}"))))!;

        Assert.DoesNotContain(page.Items, t => t.Slug == "acme");
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=1001", "limit")]
    [InlineData("limit=abc", "limit")]
    [InlineData("limit=-1", "limit")]
    [InlineData("offset=-1", "offset")]
    [InlineData("offset=1.5", "offset")]
    [InlineData("offset=99999999999", "offset")]
    public async Task List_BadPaging_Returns400NamingTheParameter(string query, string field)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var response = await silo.OperatorClient().GetAsync(Url($"/v1/tenants?{query}"));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed", field);
    }

    [Fact]
    public async Task List_OverLongSearch_Returns400()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var response = await silo.OperatorClient().GetAsync(Url($"/v1/tenants?search={new string('a', 201)}"));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed", "search");
    }

    [Fact]
    public async Task Update_DisplayName_ChangesItAndAudits()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var created = await CreateTenantAsync(client, "acme");

        var response = await client.PatchAsync(Url("/v1/tenants/acme"), Json(new { displayName = "Acme Renamed" }));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var updated = (await ReadAsync<TenantResponse>(response))!;
        Assert.Equal("Acme Renamed", updated.DisplayName);
        Assert.Equal(created.ConfigRevision, updated.ConfigRevision);
        var fetched = (await ReadAsync<TenantResponse>(await client.GetAsync(Url("/v1/tenants/acme"))))!;
        Assert.Equal("Acme Renamed", fetched.DisplayName);
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>(
            "SELECT count(*) FROM audit_log WHERE tenant_id = @Id AND action = 'tenant.update'", new { created.Id }));
    }

    [Theory]
    [InlineData("{\"displayName\":\"\"}", "validation_failed", "displayName")]
    [InlineData("{\"displayName\":42}", "malformed_body", "displayName")]
    [InlineData("{\"slug\":\"renamed\"}", "malformed_body", "slug")]
    public async Task Update_BadBody_Returns400(string body, string code, string field)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "acme");

        var response = await client.PatchAsync(Url("/v1/tenants/acme"), RawJson(body));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, code, field);
    }

    [Fact]
    public async Task Update_Nonexistent_Returns404()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var response = await silo.OperatorClient().PatchAsync(Url("/v1/tenants/nobody"), Json(new { displayName = "X" }));

        await AssertProblemAsync(response, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Delete_Tenant_Returns204WritesTombstoneAuditAndNotification()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "doomed", new { hostNames = new[] { "doomed.example.com" } });
        await using var dataSource = database.CreateDataSource();
        await using var listener = await dataSource.OpenConnectionAsync();
        var notifications = new List<string>();
        listener.Notification += (_, e) => notifications.Add(e.Payload);
        await listener.ExecuteAsync("LISTEN config_changed");

        var response = await client.DeleteAsync(Url("/v1/tenants/doomed"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        await listener.WaitAsync(TimeSpan.FromSeconds(10));
        await using var connection = await dataSource.OpenConnectionAsync();
        var tombstone = await connection.QuerySingleAsync<long>(
            "SELECT revision FROM tenant_tombstones WHERE tenant_id = @Id", new { tenant.Id });
        Assert.True(tombstone > tenant.ConfigRevision);
        Assert.Contains(tombstone.ToString(System.Globalization.CultureInfo.InvariantCulture), notifications);
        var audit = await connection.QuerySingleAsync<(long? Before, long? After)>(
            "SELECT revision_before, revision_after FROM audit_log WHERE tenant_id = @Id AND action = 'tenant.delete'", new { tenant.Id });
        Assert.Equal((tenant.ConfigRevision, tombstone), (audit.Before!.Value, audit.After!.Value));
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM host_name_claims WHERE tenant_id = @Id", new { tenant.Id }));
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync(Url("/v1/tenants/doomed"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.DeleteAsync(Url("/v1/tenants/doomed"))).StatusCode);

        // The slug and its host names are free again.
        var again = await CreateTenantAsync(client, "doomed", new { hostNames = new[] { "doomed.example.com" } });
        Assert.NotEqual(tenant.Id, again.Id);
    }

    [Fact]
    public async Task SuspendResume_ChangeStatusBumpRevisionAndAreIdempotent()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme");
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        Task<long> RevisionAsync() => connection.ExecuteScalarAsync<long>("SELECT revision FROM tenants WHERE id = @Id", new { tenant.Id });

        var suspended = await client.PostAsync(Url("/v1/tenants/acme/suspend"), null);
        var afterSuspend = await RevisionAsync();
        var suspendedAgain = await client.PostAsync(Url("/v1/tenants/acme/suspend"), null);
        var afterSecondSuspend = await RevisionAsync();
        var resumed = await client.PostAsync(Url("/v1/tenants/acme/resume"), null);
        var afterResume = await RevisionAsync();

        Assert.Equal(HttpStatusCode.OK, suspended.StatusCode);
        Assert.Equal(TenantStatuses.Suspended, (await ReadAsync<TenantResponse>(suspended))!.Status);
        Assert.Equal(HttpStatusCode.OK, suspendedAgain.StatusCode);
        Assert.Equal(TenantStatuses.Suspended, (await ReadAsync<TenantResponse>(suspendedAgain))!.Status);
        Assert.Equal(TenantStatuses.Active, (await ReadAsync<TenantResponse>(resumed))!.Status);
        Assert.True(afterSuspend > tenant.ConfigRevision);
        Assert.Equal(afterSuspend, afterSecondSuspend);
        Assert.True(afterResume > afterSuspend);
        var actions = (await connection.QueryAsync<string>(
            "SELECT action FROM audit_log WHERE tenant_id = @Id ORDER BY id", new { tenant.Id })).ToList();
        Assert.Equal(["tenant.create", "tenant.suspend", "tenant.resume"], actions);
    }

    [Theory]
    [InlineData("GET", "/v1/tenants")]
    [InlineData("PATCH", "/v1/tenants/acme")]
    [InlineData("DELETE", "/v1/tenants/acme")]
    [InlineData("POST", "/v1/tenants/acme/suspend")]
    [InlineData("POST", "/v1/tenants/acme/resume")]
    [InlineData("GET", "/v1/audit")]
    public async Task OperatorEndpoint_TenantKey_Returns403(string method, string path)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var tenant = await CreateTenantAsync(silo.OperatorClient(), "acme");
        var tenantClient = await TenantKeyFixture.ClientForAsync(silo, tenant.Id);

        using var request = new HttpRequestMessage(new HttpMethod(method), Url(path));
        if (method == "PATCH")
        {
            request.Content = Json(new { displayName = "Mine now" });
        }

        var response = await tenantClient.SendAsync(request);

        await AssertProblemAsync(response, HttpStatusCode.Forbidden, "forbidden");
        var still = (await ReadAsync<TenantResponse>(await silo.OperatorClient().GetAsync(Url("/v1/tenants/acme"))))!;
        Assert.Equal(("Tenant acme", TenantStatuses.Active), (still.DisplayName, still.Status));
    }

    [Fact]
    public async Task OpenApiDocument_DescribesTheTenantEndpoints()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);

        var document = await silo.AnonymousClient().GetStringAsync(Url("/openapi/v1.json"));

        foreach (var operation in new[] { "CreateTenant", "ListTenants", "GetTenant", "ReplaceTenantConfig", "AllocateDedicatedPort", "ListAuditEntries" })
        {
            Assert.Contains($"\"operationId\": \"{operation}\"", document, StringComparison.Ordinal);
        }
    }
}
