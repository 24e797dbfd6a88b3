using System.Diagnostics;
using System.Net;
using Npgsql;

namespace Platform.Benchmarks;

/// <summary>
/// Reference figures from the same run, machine and database, to judge the scenarios by: a bare
/// PostgreSQL round trip, a bare single-row INSERT (one commit each, like one REST write), and an
/// unauthenticated HTTP round trip to the silo.
/// </summary>
internal static class Baselines
{
    private const int Samples = 2000;

    public static async Task RunAsync(BenchContext context)
    {
        await using var dataSource = NpgsqlDataSource.Create(context.Database.ConnectionString);

        var select = new LatencyRecorder("baseline npgsql SELECT 1 (sequential)");
        await using (var connection = await dataSource.OpenConnectionAsync())
        await using (var command = new NpgsqlCommand("SELECT 1", connection))
        {
            await command.PrepareAsync();
            for (var i = 0; i < 50; i++)
            {
                await command.ExecuteScalarAsync();
            }

            select.Start();
            for (var i = 0; i < Samples; i++)
            {
                var started = Stopwatch.GetTimestamp();
                await command.ExecuteScalarAsync();
                select.Add(Stopwatch.GetElapsedTime(started));
            }

            select.Stop();
        }

        Console.WriteLine(select.Summary("queries/s"));

        await using (var create = dataSource.CreateCommand(
            """
            CREATE TABLE IF NOT EXISTS bench_rows (
                id bigserial PRIMARY KEY,
                name text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now())
            """))
        {
            await create.ExecuteNonQueryAsync();
        }

        var insert = new LatencyRecorder($"baseline npgsql INSERT autocommit ({context.Options.Concurrency} concurrent)");
        await context.RunAsync(insert, Samples, context.Options.Concurrency, async (_, index) =>
        {
            await using var command = dataSource.CreateCommand(
                """
                INSERT INTO bench_rows (name) VALUES (@name)
                """);
            command.Parameters.AddWithValue("name", $"row-{index}");
            if (await command.ExecuteNonQueryAsync() != 1)
            {
                throw new BenchmarkFailedException("INSERT wrote no row");
            }
        });
        Console.WriteLine(insert.Summary("rows/s"));

        var http = new LatencyRecorder($"baseline HTTP GET /healthz ({context.Options.Concurrency} concurrent)");
        await context.RunAsync(http, Samples, context.Options.Concurrency, async (_, _) =>
        {
            using var response = await context.Anonymous.GetAsync(new Uri("/healthz", UriKind.Relative));
            await BenchContext.EnsureAsync(response, HttpStatusCode.OK, "GET /healthz");
        });
        Console.WriteLine(http.Summary());
    }
}
