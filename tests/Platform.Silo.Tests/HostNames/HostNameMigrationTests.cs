using System.Text.Json;
using Dapper;
using Platform.Contracts;
using Platform.Contracts.Config;
using Platform.Contracts.HostNames;
using Platform.Contracts.Tenants;
using Platform.Silo.Data;
using Platform.Testing;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.HostNames;

public sealed class HostNameMigrationTests
{
    [Fact]
    public async Task Upgrade_NamesClaimedBeforeProof_BecomePendingAndPlatformNamesAreVerifiedAtStart()
    {
        await using var database = await TestDatabase.CreateAsync();
        var tenantId = Guid.NewGuid();
        await using (var dataSource = database.CreateDataSource())
        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            // The schema and the rows of a silo from before host-name proof: every claimed name routed.
            await connection.ExecuteAsync("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
            foreach (var migration in MigrationRunner.Embedded.Where(m => m.Version < 6))
            {
                await connection.ExecuteAsync(migration.Sql);
                await connection.ExecuteAsync("INSERT INTO schema_migrations (version, name) VALUES (@Version, @Name)", new { migration.Version, migration.Name });
            }

            var revision = await connection.ExecuteScalarAsync<long>("SELECT nextval('config_revision_seq')");
            var config = JsonSerializer.Serialize(new TenantConfig { HostNames = ["legacy.example.com"] }, PlatformJson.Options);
            await connection.ExecuteAsync(
                """
                INSERT INTO tenants (id, slug, display_name, status, revision, config_revision, max_connections, created_at, updated_at)
                VALUES (@tenantId, 'acme', 'Acme', 'active', @revision, @revision, 1000, now(), now());
                INSERT INTO tenant_configs (tenant_id, revision, config, actor, created_at) VALUES (@tenantId, @revision, @config::jsonb, 'test', now());
                INSERT INTO host_name_claims (host_name, tenant_id) VALUES ('acme.platform.test', @tenantId), ('legacy.example.com', @tenantId);
                """,
                new { tenantId, revision, config });
        }

        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();

        var claims = (await ReadAsync<Page<HostNameResponse>>(await client.GetAsync(Url("/v1/tenants/acme/host-names"))))!.Items;
        Assert.Equal(["acme.platform.test", "legacy.example.com"], claims.Select(c => c.Name));
        Assert.Equal((HostNameStatuses.Verified, "platform"), (claims[0].Status, claims[0].VerifiedBy));
        Assert.Equal([HostNameSources.Platform], claims[0].Sources);
        Assert.Equal(HostNameStatuses.Pending, claims[1].Status);
        Assert.Equal([HostNameSources.Config], claims[1].Sources);
        Assert.Matches("^[0-9a-f]{64}$", claims[1].ChallengeToken!);
        Assert.Equal(["acme.platform.test"], (await ReadAsync<TenantResponse>(await client.GetAsync(Url("/v1/tenants/acme"))))!.HostNames);
        await using var check = database.CreateDataSource();
        await using var reader = await check.OpenConnectionAsync();
        Assert.Equal(1, await reader.ExecuteScalarAsync<int>("SELECT count(*) FROM audit_log WHERE tenant_id = @tenantId AND action = 'host_name.reconcile'", new { tenantId }));
    }
}
