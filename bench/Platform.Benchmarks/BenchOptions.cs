using System.Globalization;

namespace Platform.Benchmarks;

/// <summary>Command-line settings of one benchmark run.</summary>
internal sealed class BenchOptions
{
    public const string Usage = """
        Usage: Platform.Benchmarks --scenario <name> --silo DLL [--gateway DLL] [--previous-silo DLL --previous-gateway DLL] [options]
          --scenario        baseline | all | a comma-separated list of create-tenants, get-config, put-config,
                            leases, watch, failover, config-fanout, lease-rtt, rest-send
          --silo DLL        Platform.Silo.dll of the build to measure ("current")
          --gateway DLL     Platform.Gateway.dll of the same commit as --silo (config-fanout, rest-send)
          --previous-silo DLL  Platform.Silo.dll of the build to compare with ("previous"), measured first in each scenario
          --previous-gateway DLL  Platform.Gateway.dll of the same commit as --previous-silo
          --flavor F        http | orleans: how the current build's gateways reach its silos (default: read from the
                            gateway's options; http without --gateway)
          --previous-flavor F  the same for the previous build
          --count N         operations to measure (default: 500 create-tenants, 4000 get-config, 1000 put-config,
                            4000 leases, 100 watch, 300 config-fanout, 2000 lease-rtt per size, 1000 rest-send)
          --concurrency C   concurrent clients (default: 8)
          --gateways G      gateways registered for the leases scenario (default: 8)
          --time-limit S    stop issuing operations after S seconds per scenario (default: 120); in failover, how
                            long the surviving silo may take to serve again
          --silo-setting K=V  an extra setting for every silo of the current build, as an environment variable
                            (repeatable), e.g. Platform__Cluster__ProbeTimeoutSeconds=2
          --pg CONN         PostgreSQL server without a database name (default: $PLATFORM_TEST_PG)
        Each scenario of each build gets a fresh database on the server, dropped afterwards, and silo processes of its own.
        """;

    /// <summary>The scenarios <c>all</c> runs, in order.</summary>
    public static IReadOnlyList<string> Scenarios { get; } =
        ["create-tenants", "get-config", "put-config", "leases", "watch", "failover", "config-fanout", "lease-rtt", "rest-send"];

    /// <summary>The scenarios that start gateway processes of the build.</summary>
    public static IReadOnlyList<string> GatewayScenarios { get; } = ["config-fanout", "rest-send"];

    public string Scenario { get; private set; } = "";

    /// <summary>The scenarios to run, in order: every one for <c>all</c>, none for <c>baseline</c>.</summary>
    public IReadOnlyList<string> ScenarioList => Scenario switch
    {
        "all" => Scenarios,
        "baseline" => [],
        _ => Scenario.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
    };

    public int? Count { get; private set; }

    public int Concurrency { get; private set; } = 8;

    public int Gateways { get; private set; } = 8;

    public string? Silo { get; private set; }

    public string? PreviousSilo { get; private set; }

    public string? Gateway { get; private set; }

    public string? PreviousGateway { get; private set; }

    public ClusterFlavor? Flavor { get; private set; }

    public ClusterFlavor? PreviousFlavor { get; private set; }

    public Dictionary<string, string> SiloSettings { get; } = [];

    public TimeSpan TimeLimit { get; private set; } = TimeSpan.FromSeconds(120);

    public string? Postgres { get; private set; }

    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var options = new BenchOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            if (i + 1 >= args.Count)
            {
                throw new ArgumentException($"{name} needs a value.");
            }

            var value = args[++i];
            switch (name)
            {
                case "--scenario":
                    options.Scenario = value;
                    break;
                case "--count":
                    options.Count = Positive(name, value);
                    break;
                case "--concurrency":
                    options.Concurrency = Positive(name, value);
                    break;
                case "--gateways":
                    options.Gateways = Positive(name, value);
                    break;
                case "--time-limit":
                    options.TimeLimit = TimeSpan.FromSeconds(Positive(name, value));
                    break;
                case "--silo":
                    options.Silo = value;
                    break;
                case "--previous-silo":
                    options.PreviousSilo = value;
                    break;
                case "--gateway":
                    options.Gateway = value;
                    break;
                case "--previous-gateway":
                    options.PreviousGateway = value;
                    break;
                case "--flavor":
                    options.Flavor = ClusterFlavors.Parse(name, value);
                    break;
                case "--previous-flavor":
                    options.PreviousFlavor = ClusterFlavors.Parse(name, value);
                    break;
                case "--silo-setting":
                    var equals = value.IndexOf('=', StringComparison.Ordinal);
                    if (equals < 1)
                    {
                        throw new ArgumentException($"--silo-setting needs NAME=VALUE, not '{value}'.");
                    }

                    options.SiloSettings[value[..equals]] = value[(equals + 1)..];
                    break;
                case "--pg":
                    options.Postgres = value;
                    break;
                default:
                    throw new ArgumentException($"Unknown option {name}.");
            }
        }

        if (options.Scenario is not ("baseline" or "all") && (options.ScenarioList.Count == 0 || options.ScenarioList.Any(s => !Scenarios.Contains(s))))
        {
            throw new ArgumentException($"--scenario must be baseline, all, or one or more (comma-separated) of {string.Join(", ", Scenarios)}.");
        }

        foreach (var (name, dll) in new[]
        {
            ("--silo", options.Silo), ("--previous-silo", options.PreviousSilo),
            ("--gateway", options.Gateway), ("--previous-gateway", options.PreviousGateway),
        })
        {
            if (dll is not null && !File.Exists(dll))
            {
                throw new ArgumentException($"{name}: {dll} does not exist (build it first).");
            }
        }

        if (options.Silo is null)
        {
            throw new ArgumentException("--silo is required.");
        }

        var needsGateways = options.Scenario == "all" || options.ScenarioList.Any(GatewayScenarios.Contains);
        if (needsGateways && (options.Gateway is null || (options.PreviousSilo is not null && options.PreviousGateway is null)))
        {
            throw new ArgumentException($"--scenario {options.Scenario} starts gateways: give --gateway (and --previous-gateway with --previous-silo).");
        }

        return options;
    }

    private static int Positive(string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"{name} must be a positive integer, not '{value}'.");
}
