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
            "schema_migrations",
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
