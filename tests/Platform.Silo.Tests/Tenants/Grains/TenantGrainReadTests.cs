using System.Net;
using Dapper;
using Npgsql;
using Platform.Contracts.Config;
using Platform.Contracts.Tenants;
using Platform.Testing;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.Tenants.Grains;

/// <summary>
/// GET tenant and GET config are answered from the tenant grain's memory: rows changed in SQL behind the grain's back
/// (which no platform writer does) stay invisible to them until the grain's next write reloads.
/// </summary>
public sealed class TenantGrainReadTests
{
    [Fact]
    public async Task GetConfigAndTenant_AfterPut_AnsweredFromTheGrainsMemoryNotFromSql()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        var tenant = await CreateTenantAsync(client, "acme");
        using var put = await client.SendAsync(new HttpRequestMessage(HttpMethod.Put, Url("/v1/tenants/acme/config"))
        {
            Content = Json(new TenantConfig { Limits = new LimitsConfig { MaxConnections = 7 } }),
            Headers = { { "If-Match", $"\"{tenant.ConfigRevision}\"" } },
        });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var revision = (await ReadAsync<ConfigResponse>(put))!.Revision;

        await using (var dataSource = NpgsqlDataSource.Create(database.ConnectionString))
        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            Assert.Equal(1, await connection.ExecuteAsync(
                "UPDATE tenant_configs SET config = jsonb_set(config, '{limits,maxConnections}', '3') WHERE tenant_id = @Id AND revision = @revision",
                new { tenant.Id, revision }));
            Assert.Equal(1, await connection.ExecuteAsync("UPDATE tenants SET display_name = 'Changed in SQL' WHERE id = @Id", new { tenant.Id }));
        }

        using var config = await client.GetAsync(Url("/v1/tenants/acme/config"));
        using var read = await client.GetAsync(Url("/v1/tenants/acme"));

        Assert.Equal(HttpStatusCode.OK, config.StatusCode);
        Assert.Equal($"\"{revision}\"", config.Headers.ETag?.ToString());
        Assert.Equal(7, (await ReadAsync<ConfigResponse>(config))!.Config.Limits.MaxConnections);
        Assert.Equal("Tenant acme", (await ReadAsync<TenantResponse>(read))!.DisplayName);
    }

    [Fact]
    public async Task GetTenant_TenantKeyOfAnotherTenant_404FromMemoryToo()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "acme");
        var other = await CreateTenantAsync(client, "other");
        var key = await Internal.InternalTestFixture.InsertTenantKeyAsync(silo, other.Id);
        // The grain of acme is active and holds the tenant: the scope check still answers another tenant's key 404.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(Url("/v1/tenants/acme"))).StatusCode);

        using var tenantRead = await silo.ClientWith(key).GetAsync(Url("/v1/tenants/acme"));
        using var configRead = await silo.ClientWith(key).GetAsync(Url("/v1/tenants/acme/config"));

        Assert.Equal(HttpStatusCode.NotFound, tenantRead.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, configRead.StatusCode);
    }
}
