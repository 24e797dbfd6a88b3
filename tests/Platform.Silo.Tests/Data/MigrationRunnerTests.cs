using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Platform.Silo.Data;
using Platform.Testing;

namespace Platform.Silo.Tests.Data;

public sealed class MigrationRunnerTests
{
    [Fact]
    public async Task ApplyAsync_EmptyDatabase_CreatesEverySchemaObject()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var dataSource = database.CreateDataSource();
        var runner = new MigrationRunner(dataSource, NullLogger<MigrationRunner>.Instance);

        var applied = await runner.ApplyAsync(CancellationToken.None);

        Assert.Equal(MigrationRunner.Embedded.Count, applied);
        await using var connection = await dataSource.OpenConnectionAsync();
        var tables = (await connection.QueryAsync<string>(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")).ToHashSet();
        foreach (var expected in new[]
        {
            "tenants", "tenant_configs", "host_name_claims", "certificates", "api_keys", "psk_identities",
            "dedicated_ports", "tenant_tombstones", "gateway_nodes", "quota_leases", "connections", "audit_log", "operators", "refusal_counts",
            "tenant_plans", "port_cooldowns", "raw_public_keys", "schema_migrations",
        })
        {
            Assert.Contains(expected, tables);
        }
    }

    [Fact]
    public async Task ApplyAsync_UpToDateDatabase_AppliesNothing()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var dataSource = database.CreateDataSource();
        var runner = new MigrationRunner(dataSource, NullLogger<MigrationRunner>.Instance);
        await runner.ApplyAsync(CancellationToken.None);

        var second = await runner.ApplyAsync(CancellationToken.None);

        Assert.Equal(0, second);
        await using var connection = await dataSource.OpenConnectionAsync();
        Assert.Equal(MigrationRunner.Embedded.Count, await connection.ExecuteScalarAsync<int>("SELECT count(*) FROM schema_migrations"));
    }

    [Fact]
    public async Task ApplyAsync_TenantsFromBeforePlans_GetTheDefaultPlanRaisedToWhatTheirConfigurationUses()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        // The schema as the silo left it before plans existed, with two tenants in it.
        foreach (var migration in MigrationRunner.Embedded.Where(m => m.Version < 5))
        {
            await connection.ExecuteAsync(migration.Sql);
        }

        await connection.ExecuteAsync(
            """
            CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now());
            INSERT INTO schema_migrations (version, name) VALUES (1, 'initial'), (2, 'operators'), (3, 'refusals'), (4, 'gateway_stopped');
            INSERT INTO tenants (id, slug, display_name, status, revision, config_revision, max_connections, created_at, updated_at)
            VALUES ('00000000-0000-0000-0000-00000000000a', 'plain', 'Plain', 'active', 1, 1, 1000, now(), now()),
                   ('00000000-0000-0000-0000-00000000000b', 'big', 'Big', 'active', 2, 2, 50000, now(), now());
            INSERT INTO tenant_configs (tenant_id, revision, config, actor, created_at)
            VALUES ('00000000-0000-0000-0000-00000000000a', 1, '{"limits":{"maxConnections":1000,"connectionsPerSecond":0}}', 'test', now()),
                   ('00000000-0000-0000-0000-00000000000b', 2,
                    '{"limits":{"maxConnections":50000,"connectionsPerSecond":5000,"maxHalfOpenHandshakes":300,"maxHalfOpenHandshakesPerClient":400},"webSocket":{"maxMessageSize":4194304},"framing":{"maxLineLength":2048,"recordLength":0}}',
                    'test', now());
            """);
        var runner = new MigrationRunner(dataSource, NullLogger<MigrationRunner>.Instance);

        Assert.Equal(MigrationRunner.Embedded.Count - 4, await runner.ApplyAsync(CancellationToken.None));

        var plans = (await connection.QueryAsync<(string Slug, int MaxConnections, int PerSecond, int MessageSize, int HalfOpen, int Ports, int Certificates, int Psk, int Keys, int Names)>(
            """
            SELECT t.slug, p.max_connections, p.connections_per_second, p.max_message_size, p.max_half_open_handshakes,
                   p.dedicated_ports, p.certificates, p.psk_identities, p.api_keys, p.host_names
            FROM tenant_plans p JOIN tenants t ON t.id = p.tenant_id ORDER BY t.slug
            """)).ToList();
        Assert.Equal(
            [("big", 50000, 5000, 4194304, 400, 5, 10, 1000, 10, 10), ("plain", 1000, 1000, 1048576, 256, 5, 10, 1000, 10, 10)],
            plans);
    }

    [Fact]
    public async Task ApplyAsync_TwoSilosStartingTogether_BothSucceedAndApplyOnce()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var a = database.CreateDataSource();
        await using var b = database.CreateDataSource();

        var results = await Task.WhenAll(
            new MigrationRunner(a, NullLogger<MigrationRunner>.Instance).ApplyAsync(CancellationToken.None),
            new MigrationRunner(b, NullLogger<MigrationRunner>.Instance).ApplyAsync(CancellationToken.None));

        Assert.Equal(MigrationRunner.Embedded.Count, results.Sum());
        Assert.Contains(0, results);
    }

    [Fact]
    public async Task ApplyAsync_ConnectionsListedWithRuntimeProtocolNames_ConvertedToTheProtocolsOwnNames()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var dataSource = database.CreateDataSource();
        await using var connection = await dataSource.OpenConnectionAsync();
        // Rows as gateways before migration 7 wrote them: .NET's enum names for TLS, OpenSSL's for DTLS.
        await connection.ExecuteAsync("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
        foreach (var migration in MigrationRunner.Embedded.Where(m => m.Version < 7))
        {
            await connection.ExecuteAsync(migration.Sql);
            await connection.ExecuteAsync("INSERT INTO schema_migrations (version, name) VALUES (@Version, @Name)", new { migration.Version, migration.Name });
        }

        await connection.ExecuteAsync(
            """
            INSERT INTO tenants (id, slug, display_name, status, revision, config_revision, max_connections, created_at, updated_at)
            VALUES ('00000000-0000-0000-0000-00000000000a', 'acme', 'Acme', 'active', 1, 1, 1000, now(), now());
            INSERT INTO connections (id, tenant_id, gateway_id, protocol, remote_address, remote_port, local_port, opened_at, last_activity_at, tls)
            SELECT 'gw-a.' || v.n, '00000000-0000-0000-0000-00000000000a', 'gw-a', v.protocol, '127.0.0.1', 40000, 7443, now(), now(), v.tls::jsonb
            FROM (VALUES (1, 'tls', '{"sni":"acme.platform.test","protocol":"Tls13","cipherSuite":"TLS_AES_128_GCM_SHA256"}'),
                         (2, 'wss', '{"sni":"acme.platform.test","protocol":"Tls12","cipherSuite":"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}'),
                         (3, 'dtls', '{"sni":null,"protocol":"DTLSv1.2","cipherSuite":"PSK-AES128-GCM-SHA256","pskIdentity":"acme/dev1"}'),
                         (4, 'ws', NULL)) AS v (n, protocol, tls);
            """);
        var runner = new MigrationRunner(dataSource, NullLogger<MigrationRunner>.Instance);

        Assert.Equal(MigrationRunner.Embedded.Count - 6, await runner.ApplyAsync(CancellationToken.None));

        var rows = (await connection.QueryAsync<(string Id, string? Protocol, string? Cipher)>(
            "SELECT id, tls ->> 'protocol', tls ->> 'cipherSuite' FROM connections ORDER BY id")).ToList();
        Assert.Equal(
            [("gw-a.1", "TLSv1.3", "TLS_AES_128_GCM_SHA256"), ("gw-a.2", "TLSv1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
             ("gw-a.3", "DTLSv1.2", "PSK-AES128-GCM-SHA256"), ("gw-a.4", null, null)],
            rows);
    }

    [Fact]
    public async Task ApplyAsync_DatabaseFromNewerVersion_RefusesToStart()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var dataSource = database.CreateDataSource();
        var runner = new MigrationRunner(dataSource, NullLogger<MigrationRunner>.Instance);
        await runner.ApplyAsync(CancellationToken.None);
        await using (var connection = await dataSource.OpenConnectionAsync())
        {
            await connection.ExecuteAsync("INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')");
        }

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => runner.ApplyAsync(CancellationToken.None));
        Assert.Contains("9999", error.Message, StringComparison.Ordinal);
    }
}
