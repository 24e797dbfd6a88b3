using System.Diagnostics;
using System.Globalization;

namespace Platform.Gateway.Bench;

/// <summary>
/// A child process holding idle connections: the open-file limit of one process (20000 on some machines, and
/// not raisable without CAP_SYS_RESOURCE) is below the connection counts measured, so the load is spread.
/// Protocol on its standard streams: it prints <c>held N FAILURES FIRST-ERROR</c> once all are opened, answers
/// <c>check</c> with <c>open N</c>, and closes everything and exits when its input ends.
/// </summary>
internal sealed class Holder : IAsyncDisposable
{
    /// <summary>Connections per holder process, under a 20000 open-file limit with room to spare.</summary>
    public const int MaxPerProcess = 15_000;

    private static readonly TimeSpan OperationLimit = TimeSpan.FromSeconds(30);
    private readonly Process _process;

    private Holder(Process process) => _process = process;

    public static Holder Start(Target target, int count, int concurrency)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            typeof(Holder).Assembly.Location, "hold", "--target", target.Spec,
            "--count", count.ToString(CultureInfo.InvariantCulture), "--concurrency", concurrency.ToString(CultureInfo.InvariantCulture),
        })
        {
            start.ArgumentList.Add(argument);
        }

        return new Holder(Process.Start(start) ?? throw new InvalidOperationException("could not start a holder process"));
    }

    /// <summary>Waits for the holder to report its connections opened.</summary>
    public async Task<(int Held, int Failures, string FirstError)> HeldAsync()
    {
        var line = await _process.StandardOutput.ReadLineAsync() ?? throw new InvalidOperationException("a holder process ended early");
        var parts = line.Split(' ', 4);
        if (parts[0] != "held")
        {
            throw new InvalidOperationException($"holder said: {line}");
        }

        return (int.Parse(parts[1], CultureInfo.InvariantCulture), int.Parse(parts[2], CultureInfo.InvariantCulture), parts.Length > 3 ? parts[3] : "");
    }

    /// <summary>How many of the holder's connections the server still keeps open.</summary>
    public async Task<int> CountOpenAsync()
    {
        await _process.StandardInput.WriteLineAsync("check");
        await _process.StandardInput.FlushAsync();
        var line = await _process.StandardOutput.ReadLineAsync() ?? throw new InvalidOperationException("a holder process ended early");
        return int.Parse(line["open ".Length..], CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        _process.StandardInput.Close();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await _process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }

    /// <summary>The holder process itself.</summary>
    public static async Task<int> RunAsync(Target target, int count, int concurrency, Sources sources)
    {
        var connections = new RawWebSocket?[count];
        var failures = new Failures();
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (i, _) =>
        {
            using var limit = new CancellationTokenSource(OperationLimit);
            try
            {
                connections[i] = await RawWebSocket.ConnectAsync(target, sources.Next(), limit.Token);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or System.Net.Sockets.SocketException or System.Security.Authentication.AuthenticationException)
            {
                failures.Add(e);
            }
        });
        Console.WriteLine($"held {count - failures.Count} {failures.Count} {failures.First}");
        while (await Console.In.ReadLineAsync() is { } line)
        {
            if (line == "check")
            {
                Console.WriteLine($"open {connections.Count(c => c is not null && c.LooksOpen)}");
            }
        }

        foreach (var connection in connections)
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }
        }

        return 0;
    }
}
