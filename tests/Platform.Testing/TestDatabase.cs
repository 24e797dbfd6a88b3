using Npgsql;

namespace Platform.Testing;

/// <summary>
/// A fresh, empty database on the test PostgreSQL server, dropped on dispose. The server is the
/// throwaway instance <c>infra/test.sh</c> starts; its connection string comes from
/// <c>PLATFORM_TEST_PG</c> (without a database name).
/// </summary>
public sealed class TestDatabase : IAsyncDisposable
{
    private readonly string _server;

    private TestDatabase(string server, string name)
    {
        _server = server;
        Name = name;
        ConnectionString = new NpgsqlConnectionStringBuilder(server) { Database = name, Pooling = true, MaxPoolSize = 40 }.ConnectionString;
    }

    public string Name { get; }

    public string ConnectionString { get; }

    public static string ServerConnectionString =>
        Environment.GetEnvironmentVariable("PLATFORM_TEST_PG") is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                "PLATFORM_TEST_PG is not set. Run the tests through infra/test.sh, which starts a throwaway PostgreSQL, " +
                "or set PLATFORM_TEST_PG to 'Host=...;Port=...;Username=...' of a server where databases may be created.");

    public static async Task<TestDatabase> CreateAsync()
    {
        var name = $"t_{Guid.NewGuid():N}";
        var server = ServerConnectionString;
        await using var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(server) { Database = "postgres", Pooling = false }.ConnectionString);
        await admin.OpenAsync();
        await using (var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", admin))
        {
            await command.ExecuteNonQueryAsync();
        }

        return new TestDatabase(server, name);
    }

    public NpgsqlDataSource CreateDataSource() => NpgsqlDataSource.Create(ConnectionString);

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(_server) { Database = "postgres", Pooling = false }.ConnectionString);
        await admin.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)", admin);
        await command.ExecuteNonQueryAsync();
    }
}
