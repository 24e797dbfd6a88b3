using System.Net;
using Dapper;
using Platform.Contracts.Tenants;
using Platform.Testing;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.Tenants;

public sealed class PortsApiTests
{
    private static Dictionary<string, string?> Range(int first, int last) => new()
    {
        ["Platform:DedicatedPortFirst"] = first.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Platform:DedicatedPortLast"] = last.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    [Fact]
    public async Task Allocate_LowestFreePort_ListedBumpsRevisionAndAudits()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, Range(30000, 30009));
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme");

        var first = await client.PostAsync(Url("/v1/tenants/acme/ports"), Json(new { protocol = "tcp" }));
        var second = await client.PostAsync(Url("/v1/tenants/acme/ports"), Json(new { protocol = "dtls" }));

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal("/v1/tenants/acme/ports/30000", first.Headers.Location?.ToString());
        Assert.Equal((30000, "tcp"), Pick((await ReadAsync<DedicatedPortResponse>(first))!));
        Assert.Equal((30001, "dtls"), Pick((await ReadAsync<DedicatedPortResponse>(second))!));
        var list = (await ReadAsync<Page<DedicatedPortResponse>>(await client.GetAsync(Url("/v1/tenants/acme/ports"))))!;
        Assert.Equal([(30000, "tcp"), (30001, "dtls")], list.Items.Select(Pick));
        var refreshed = (await ReadAsync<TenantResponse>(await client.GetAsync(Url("/v1/tenants/acme"))))!;
        Assert.Equal([30000, 30001], refreshed.DedicatedPorts.Select(p => p.Port));

        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        var audits = (await connection.QueryAsync<(string Action, string Target, long Before, long After)>(
            "SELECT action, target, revision_before, revision_after FROM audit_log WHERE tenant_id = @Id AND action LIKE 'port.%' ORDER BY id",
            new { tenant.Id })).ToList();
        Assert.Equal(["30000", "30001"], audits.Select(a => a.Target));
        Assert.Equal(tenant.ConfigRevision, audits[0].Before);
        Assert.Equal(audits[0].After, audits[1].Before);
        Assert.Equal(audits[1].After, await connection.ExecuteScalarAsync<long>("SELECT revision FROM tenants WHERE id = @Id", new { tenant.Id }));
    }

    [Fact]
    public async Task Release_Port_FreesItForReuseAndBumpsRevision()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, Range(30000, 30009));
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "acme");
        await client.PostAsync(Url("/v1/tenants/acme/ports"), Json(new { protocol = "tcp" }));
        await client.PostAsync(Url("/v1/tenants/acme/ports"), Json(new { protocol = "tls" }));
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        var before = await connection.ExecuteScalarAsync<long>("SELECT revision FROM tenants WHERE slug = 'acme'");

        var released = await client.DeleteAsync(Url("/v1/tenants/acme/ports/30000"));
        var again = await client.DeleteAsync(Url("/v1/tenants/acme/ports/30000"));
        var reused = await client.PostAsync(Url("/v1/tenants/acme/ports"), Json(new { protocol = "tls" }));

        Assert.Equal(HttpStatusCode.NoContent, released.StatusCode);
        await AssertProblemAsync(again, HttpStatusCode.NotFound, "not_found");
        Assert.Equal(30000, (await ReadAsync<DedicatedPortResponse>(reused))!.Port);
        Assert.True(await connection.ExecuteScalarAsync<long>("SELECT revision FROM tenants WHERE slug = 'acme'") > before);
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM audit_log WHERE action = 'port.release' AND target = '30000'"));
    }

    [Fact]
    public async Task Release_AnotherTenantsPort_Returns404AndKeepsIt()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, Range(30000, 30009));
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "alpha");
        await CreateTenantAsync(client, "bravo");
        await client.PostAsync(Url("/v1/tenants/alpha/ports"), Json(new { protocol = "tcp" }));

        var response = await client.DeleteAsync(Url("/v1/tenants/bravo/ports/30000"));

        await AssertProblemAsync(response, HttpStatusCode.NotFound, "not_found");
        var list = (await ReadAsync<Page<DedicatedPortResponse>>(await client.GetAsync(Url("/v1/tenants/alpha/ports"))))!;
        Assert.Single(list.Items);
    }

    [Fact]
    public async Task Allocate_RangeExhausted_Returns409PortsExhausted()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, Range(30000, 30001));
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "acme");
        await client.PostAsync(Url("/v1/tenants/acme/ports"), Json(new { protocol = "tcp" }));
        await client.PostAsync(Url("/v1/tenants/acme/ports"), Json(new { protocol = "tcp" }));

        var response = await client.PostAsync(Url("/v1/tenants/acme/ports"), Json(new { protocol = "tcp" }));

        await AssertProblemAsync(response, HttpStatusCode.Conflict, "ports_exhausted");
    }

    [Fact]
    public async Task Allocate_ConcurrentlyAcrossTenants_GivesDistinctPortsUntilExhausted()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, Range(30000, 30005), useKestrel: true);
        var slugs = new[] { "alpha", "bravo", "charlie", "delta" };
        foreach (var slug in slugs)
        {
            await CreateTenantAsync(silo.OperatorClient(), slug);
        }

        var responses = await Task.WhenAll(slugs.SelectMany(slug => Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            using var client = silo.OperatorClient();
            return await client.PostAsync(Url($"/v1/tenants/{slug}/ports"), Json(new { protocol = "tcp" }));
        }))));

        var created = responses.Where(r => r.StatusCode == HttpStatusCode.Created).ToList();
        Assert.Equal(6, created.Count);
        var ports = new List<int>();
        foreach (var response in created)
        {
            ports.Add((await ReadAsync<DedicatedPortResponse>(response))!.Port);
        }

        Assert.Equal(Enumerable.Range(30000, 6), ports.Order());
        foreach (var response in responses.Where(r => r.StatusCode != HttpStatusCode.Created))
        {
            await AssertProblemAsync(response, HttpStatusCode.Conflict, "ports_exhausted");
        }
    }

    [Theory]
    [InlineData("{\"protocol\":\"udp\"}", "validation_failed", "protocol")]
    [InlineData("{\"protocol\":\"TCP\"}", "validation_failed", "protocol")]
    [InlineData("{}", "validation_failed", "protocol")]
    [InlineData("{\"protocol\":7}", "malformed_body", "protocol")]
    [InlineData("{\"protocol\":\"tcp\",\"port\":20000}", "malformed_body", "port")]
    public async Task Allocate_BadBody_Returns400(string body, string code, string field)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await CreateTenantAsync(silo.OperatorClient(), "acme");

        var response = await silo.OperatorClient().PostAsync(Url("/v1/tenants/acme/ports"), RawJson(body));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, code, field);
    }

    [Fact]
    public async Task TenantKey_ManagesOwnPorts_OtherTenantIs404()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database, Range(30000, 30009));
        var own = await CreateTenantAsync(silo.OperatorClient(), "alpha");
        await CreateTenantAsync(silo.OperatorClient(), "bravo");
        var tenantClient = await TenantKeyFixture.ClientForAsync(silo, own.Id);

        var allocated = await tenantClient.PostAsync(Url("/v1/tenants/alpha/ports"), Json(new { protocol = "tls" }));
        var foreign = await tenantClient.PostAsync(Url("/v1/tenants/bravo/ports"), Json(new { protocol = "tls" }));
        var foreignList = await tenantClient.GetAsync(Url("/v1/tenants/bravo/ports"));

        Assert.Equal(HttpStatusCode.Created, allocated.StatusCode);
        await AssertProblemAsync(foreign, HttpStatusCode.NotFound, "not_found");
        await AssertProblemAsync(foreignList, HttpStatusCode.NotFound, "not_found");
        Assert.Equal(HttpStatusCode.NoContent, (await tenantClient.DeleteAsync(Url("/v1/tenants/alpha/ports/30000"))).StatusCode);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("0")]
    [InlineData("65536")]
    [InlineData("-1")]
    public async Task Release_InvalidPortNumber_Returns400NamingPort(string port)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        await CreateTenantAsync(silo.OperatorClient(), "acme");

        var response = await silo.OperatorClient().DeleteAsync(Url($"/v1/tenants/acme/ports/{port}"));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "validation_failed", "port");
    }

    private static (int Port, string Protocol) Pick(DedicatedPortResponse p) => (p.Port, p.Protocol);
}
