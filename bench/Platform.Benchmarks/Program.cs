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

if (options.Postgres is not null)
{
    Environment.SetEnvironmentVariable("PLATFORM_TEST_PG", options.Postgres);
}

SiloBuild current;
SiloBuild[] builds;
try
{
    current = Build("current", options.Silo!, options.Gateway, options.Flavor, options.SiloSettings);
    builds = options.PreviousSilo is { } previous
        ? [Build("previous", previous, options.PreviousGateway, options.PreviousFlavor, new Dictionary<string, string>()), current]
        : [current];
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

try
{
    await Machine.PrintAsync(builds);

    Console.WriteLine();
    Console.WriteLine("Baselines (current silo)");
    await OnSilosAsync(current, 1, (context, _) => Baselines.RunAsync(context));

    foreach (var scenario in options.ScenarioList)
    {
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Scenario {scenario}"));
        foreach (var build in builds)
        {
            await OnSilosAsync(build, scenario is "failover" or "config-fanout" ? 2 : 1, (context, silos) => scenario switch
            {
                "create-tenants" => CreateTenantsScenario.RunAsync(context),
                "get-config" => ConfigScenarios.GetConfigAsync(context),
                "put-config" => ConfigScenarios.PutConfigAsync(context),
                "leases" => LeasesScenario.RunAsync(context),
                "watch" => WatchScenario.RunAsync(context),
                "failover" => FailoverScenario.RunAsync(context, silos[0], silos[1]),
                "config-fanout" => ConfigFanoutScenario.RunAsync(context, silos),
                "lease-rtt" => LeaseRttScenario.RunAsync(context, silos[0]),
                "rest-send" => RestSendScenario.RunAsync(context, silos[0]),
                _ => throw new InvalidOperationException($"unknown scenario {scenario}"),
            });
        }
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

// A build of the run: its gateway's flavor is read from the gateway unless given (http when there is no gateway).
static SiloBuild Build(string name, string silo, string? gateway, ClusterFlavor? flavor, IReadOnlyDictionary<string, string> settings)
{
    var gatewayDll = gateway is null ? null : Path.GetFullPath(gateway);
    var link = flavor ?? (gatewayDll is null ? ClusterFlavor.Http : ClusterFlavors.Detect(gatewayDll));
    var all = new Dictionary<string, string>(settings);
    if (link == ClusterFlavor.Http)
    {
        // Silos of the HTTP link refuse to start without the internal API's shared secret.
        all[SiloBuild.ClusterSecretSetting] = "cs_" + Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
    }

    return new SiloBuild(name, Path.GetFullPath(silo), all, gatewayDll, link);
}

// A fresh database and `count` silo processes of `build` on it (the first runs the migrations before the next joins).
async Task OnSilosAsync(SiloBuild build, int count, Func<BenchContext, IReadOnlyList<SiloProcess>, Task> run)
{
    await using var database = await TestDatabase.CreateAsync();
    var settings = new Dictionary<string, string?>
    {
        ["Logging:LogLevel:Default"] = "Warning",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
    };
    foreach (var (key, value) in build.Settings)
    {
        settings[key] = value;
    }

    var silos = new List<SiloProcess>();
    try
    {
        silos.Add(await SiloProcess.StartAsync(database, settings, build.SiloDll));
        while (silos.Count < count)
        {
            silos.Add(await SiloProcess.StartAsync(silos[0]));
        }

        using var context = new BenchContext(options, database, build, silos[0].Secrets, silos[0].BaseAddress);
        await run(context, silos);
    }
    catch (InvalidOperationException ex) when (silos.Count < count)
    {
        throw new BenchmarkFailedException($"the {build.Name} silo did not start: {ex.Message}");
    }
    finally
    {
        foreach (var silo in silos)
        {
            await silo.DisposeAsync();
        }
    }
}
