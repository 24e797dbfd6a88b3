using System.Globalization;
using System.Net;
using Platform.Gateway.Bench;

// Modes:
//   tcp-echo --port P                                    a TCP echo backend
//   kestrel-echo --port P [--tls-port P --pfx FILE]      the bare Kestrel WebSocket echo baseline
//   hold --target SPEC --count N [--concurrency C] [--sources N]   (started by run: holds N idle connections)
//   run --target NAME=ws|wss,IP:PORT[|IP:PORT...],HOST,PATH,PID[+PID...][,SHA256] ... --idle COUNT:NAME,...;COUNT:NAME,... --upgrades NAME,... --echo NAME,...
//       [--duration S] [--settle S (wait before reading memory, default 5)] [--echo-connections N] [--payload B] [--upgrade-concurrency N] [--sources N]
// Not disposed: the process-exit handler may still cancel it while the process ends.
var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();

var options = Options.Parse(args.Skip(1).ToArray());
switch (args.FirstOrDefault())
{
    case "tcp-echo":
        await EchoServers.RunTcpEchoAsync(options.Int("port", 0), stop.Token);
        return 0;
    case "kestrel-echo":
        await EchoServers.RunKestrelEchoAsync(options.Int("port", 0), options.Int("tls-port", 0), options.Get("pfx"), stop.Token);
        return 0;
    case "webhook-echo":
        await EchoServers.RunWebhookEchoAsync(options.Int("port", 0), stop.Token);
        return 0;
    case "hold":
        return await Holder.RunAsync(ParseTarget(options.Get("target") ?? throw new ArgumentException("hold needs --target")),
            options.Int("count", 0), options.Int("concurrency", 64), new Sources(options.Int("sources", 16)));
    case "run":
        return await RunAsync(options);
    default:
        Console.Error.WriteLine("usage: Platform.Gateway.Bench tcp-echo|kestrel-echo|webhook-echo|run [options] (see Program.cs)");
        return 2;
}

static async Task<int> RunAsync(Options options)
{
    var targets = options.All("target").Select(ParseTarget).ToDictionary(t => t.Name);
    Target Find(string name) => targets.TryGetValue(name, out var t) ? t : throw new ArgumentException($"no --target named {name}");
    var scenarios = new Scenarios(new Sources(options.Int("sources", 16)), Console.Out, TimeSpan.FromSeconds(options.Int("settle", 5)));
    var duration = TimeSpan.FromSeconds(options.Int("duration", 10));

    // --idle COUNT:NAME,NAME;COUNT:NAME,... : which targets hold how many idle connections.
    if (options.List("idle", separator: ';') is { Count: > 0 } idle)
    {
        Console.WriteLine();
        Console.WriteLine("| scenario | target | connections asked | held open | server RSS before | server RSS after | RSS per connection | open rate | failures |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var step in idle)
        {
            var count = int.Parse(step[..step.IndexOf(':', StringComparison.Ordinal)], CultureInfo.InvariantCulture);
            foreach (var name in step[(step.IndexOf(':', StringComparison.Ordinal) + 1)..].Split(','))
            {
                await scenarios.IdleAsync(Find(name), count, options.Int("idle-concurrency", 64));
            }
        }
    }

    if (options.List("upgrades") is { Count: > 0 } upgrades)
    {
        Console.WriteLine();
        Console.WriteLine("| scenario | target | concurrent loops | upgrades | rate | p50 | p99 | server CPU per upgrade | failures |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var name in upgrades)
        {
            await scenarios.UpgradesAsync(Find(name), options.Int("upgrade-concurrency", 16), duration);
        }
    }

    if (options.List("echo") is { Count: > 0 } echo)
    {
        Console.WriteLine();
        Console.WriteLine("| scenario | target | connections × payload | round trips | rate | p50 | p99 | server CPU per round trip | failures |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var name in echo)
        {
            await scenarios.EchoAsync(Find(name), options.Int("echo-connections", 64), options.Int("payload", 64), duration);
        }
    }

    return 0;
}

static Target ParseTarget(string text)
{
    var (name, spec) = (text[..text.IndexOf('=', StringComparison.Ordinal)], text[(text.IndexOf('=', StringComparison.Ordinal) + 1)..]);
    var parts = spec.Split(',');
    // The endpoint part may name several server processes: IP:PORT|IP:PORT, with their pids as PID+PID.
    if (parts.Length < 5 || parts[0] is not ("ws" or "wss"))
    {
        throw new ArgumentException($"--target {text}: expected NAME=ws|wss,IP:PORT[|IP:PORT...],HOST,PATH,PID[+PID...][,SHA256]");
    }

    return new Target(name, parts[1].Split('|').Select(IPEndPoint.Parse).ToArray(), parts[2], parts[3], parts[0] == "wss",
        parts[4].Split('+').Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray())
    {
        Spec = text,
        Thumbprint = parts.Length > 5 ? parts[5] : null,
    };
}

/// <summary>--name value pairs; a name may repeat.</summary>
internal sealed class Options
{
    private readonly List<(string Name, string Value)> _pairs = [];

    public static Options Parse(string[] args)
    {
        var options = new Options();
        for (var i = 0; i < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new ArgumentException($"expected --name value at '{args[i]}'");
            }

            options._pairs.Add((args[i][2..], args[i + 1]));
        }

        return options;
    }

    public string? Get(string name) => _pairs.LastOrDefault(p => p.Name == name).Value;

    public IEnumerable<string> All(string name) => _pairs.Where(p => p.Name == name).Select(p => p.Value);

    public int Int(string name, int fallback) => Get(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

    public IReadOnlyList<string> List(string name, char separator = ',') =>
        Get(name)?.Split(separator, StringSplitOptions.RemoveEmptyEntries) ?? [];
}
