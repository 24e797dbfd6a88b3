using System.Globalization;

namespace Platform.Benchmarks;

/// <summary>Command-line settings of one benchmark run.</summary>
internal sealed class BenchOptions
{
    public const string Usage = """
        Usage: Platform.Benchmarks --scenario <name> [options]
          --scenario      baseline | create-tenants | leases | watch | all
          --count N       operations to measure (default: 500 create-tenants, 4000 leases, 100 watch)
          --concurrency C concurrent clients (default: 8)
          --gateways G    gateways registered for the leases scenario (default: 4)
          --time-limit S  stop issuing operations after S seconds per scenario (default: 120)
          --pg CONN       PostgreSQL server without a database name (default: $PLATFORM_TEST_PG)
        A fresh database is created on the server for the run and dropped afterwards.
        """;

    public string Scenario { get; private set; } = "";

    public int? Count { get; private set; }

    public int Concurrency { get; private set; } = 8;

    public int Gateways { get; private set; } = 4;

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
                case "--pg":
                    options.Postgres = value;
                    break;
                default:
                    throw new ArgumentException($"Unknown option {name}.");
            }
        }

        if (options.Scenario is not ("baseline" or "create-tenants" or "leases" or "watch" or "all"))
        {
            throw new ArgumentException("--scenario must be baseline, create-tenants, leases, watch or all.");
        }

        return options;
    }

    private static int Positive(string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new ArgumentException($"{name} must be a positive integer, not '{value}'.");
}
