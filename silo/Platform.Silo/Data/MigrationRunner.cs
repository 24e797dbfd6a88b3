using System.Globalization;
using System.Reflection;
using Dapper;
using Npgsql;

namespace Platform.Silo.Data;

/// <summary>
/// Applies the embedded, forward-only numbered migrations (<c>NNNN_name.sql</c>) in one transaction
/// under a transaction-scoped advisory lock, so silos starting together serialise here and all come up.
/// </summary>
internal sealed partial class MigrationRunner(NpgsqlDataSource dataSource, ILogger<MigrationRunner> logger)
{
    // Arbitrary constant shared by every silo: "platform" in ASCII.
    private const long AdvisoryLockKey = 0x706c6174666f726d;

    /// <summary>Embedded migrations ordered by number.</summary>
    public static IReadOnlyList<Migration> Embedded { get; } = LoadEmbedded();

    /// <summary>Applies what is missing and returns how many migrations ran.</summary>
    public async Task<int> ApplyAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "SELECT pg_advisory_xact_lock(@key)", new { key = AdvisoryLockKey }, transaction, cancellationToken: cancellationToken));
        await connection.ExecuteAsync(new CommandDefinition(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version     integer PRIMARY KEY,
                name        text NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now()
            )
            """, transaction: transaction, cancellationToken: cancellationToken));
        var applied = (await connection.QueryAsync<int>(new CommandDefinition(
            "SELECT version FROM schema_migrations", transaction: transaction, cancellationToken: cancellationToken))).ToHashSet();

        var unknown = applied.Where(v => Embedded.All(m => m.Version != v)).ToList();
        if (unknown.Count > 0)
        {
            throw new InvalidOperationException(
                $"The database has migrations this silo does not know ({string.Join(", ", unknown)}); it was migrated by a newer version.");
        }

        var count = 0;
        foreach (var migration in Embedded.Where(m => !applied.Contains(m.Version)))
        {
            LogApplying(logger, migration.Version, migration.Name);
            await connection.ExecuteAsync(new CommandDefinition(migration.Sql, transaction: transaction, cancellationToken: cancellationToken));
            await connection.ExecuteAsync(new CommandDefinition(
                "INSERT INTO schema_migrations (version, name) VALUES (@Version, @Name)",
                new { migration.Version, migration.Name }, transaction, cancellationToken: cancellationToken));
            count++;
        }

        await transaction.CommitAsync(cancellationToken);
        return count;
    }

    private static List<Migration> LoadEmbedded()
    {
        var assembly = typeof(MigrationRunner).Assembly;
        var list = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith("Migrations.", StringComparison.Ordinal)))
        {
            var fileName = resource["Migrations.".Length..];
            var underscore = fileName.IndexOf('_', StringComparison.Ordinal);
            if (underscore <= 0 || !int.TryParse(fileName.AsSpan(0, underscore), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
            {
                throw new InvalidOperationException($"Migration '{fileName}' is not named NNNN_name.sql.");
            }

            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            list.Add(new Migration(version, Path.GetFileNameWithoutExtension(fileName)[(underscore + 1)..], reader.ReadToEnd()));
        }

        list.Sort((a, b) => a.Version.CompareTo(b.Version));
        // Numbers are handed out ahead of the changes that use them, so one may be missing for a while; two
        // files with one number would leave their order to chance.
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i].Version < 1 || (i > 0 && list[i].Version == list[i - 1].Version))
            {
                throw new InvalidOperationException($"Migrations must have distinct positive numbers; found {list[i].Version} twice or below 1.");
            }
        }

        return list;
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Applying migration {Version} ({Name})")]
    private static partial void LogApplying(ILogger logger, int version, string name);

    /// <summary>One embedded migration.</summary>
    internal sealed record Migration(int Version, string Name, string Sql);
}
