using System.Globalization;
using Npgsql;
using Platform.Benchmarks;
using Platform.Testing;

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    Console.Error.WriteLine(BenchOptions.Usage);
    return 2;
}

// WebApplicationFactory finds the silo's content root through a manifest it looks up relative to
// the current directory; the build puts that manifest beside this program.
Directory.SetCurrentDirectory(AppContext.BaseDirectory);

if (options.Postgres is not null)
{
    Environment.SetEnvironmentVariable("PLATFORM_TEST_PG", options.Postgres);
}

try
{
    await using var database = await TestDatabase.CreateAsync();
    using var silo = new SiloApp(database, new Dictionary<string, string?>
    {
        ["Logging:LogLevel:Default"] = "Warning",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
    }, useKestrel: true);
    using var context = new BenchContext(options, database, silo);
    await Machine.PrintAsync(context);

    Console.WriteLine();
    Console.WriteLine("Baselines");
    await Baselines.RunAsync(context);

    string[] scenarios = options.Scenario switch
    {
        "all" => ["create-tenants", "leases", "watch"],
        "baseline" => [],
        _ => [options.Scenario],
    };
    foreach (var scenario in scenarios)
    {
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Scenario {scenario}"));
        await (scenario switch
        {
            "create-tenants" => CreateTenantsScenario.RunAsync(context),
            "leases" => LeasesScenario.RunAsync(context),
            "watch" => WatchScenario.RunAsync(context),
            _ => Task.CompletedTask,
        });
    }

    Console.WriteLine();
    Console.WriteLine($"load at end {Machine.LoadAverage()}");
    return 0;
}
catch (BenchmarkFailedException ex)
{
    Console.Error.WriteLine($"benchmark failed: {ex.Message}");
    return 1;
}
catch (NpgsqlException ex)
{
    Console.Error.WriteLine($"PostgreSQL error: {ex.Message}");
    return 1;
}
