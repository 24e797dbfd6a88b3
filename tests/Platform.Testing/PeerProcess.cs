using System.Diagnostics;
using System.Text;
using Xunit;

namespace Platform.Testing;

/// <summary>
/// A peer program written elsewhere (openssl s_client, gnutls-cli) driven through its standard streams: stdout and
/// stderr are collected line by line, lines can be waited for, and the process is killed on dispose if still running.
/// </summary>
public sealed class PeerProcess : IAsyncDisposable
{
    /// <summary>How long a peer gets to show an expected line.</summary>
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource Seen)> _waiters = [];

    private PeerProcess(Process process)
    {
        _process = process;
    }

    /// <summary>Everything the peer printed so far (stdout and stderr interleaved), starting with a newline.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return "\n" + _output;
            }
        }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>The peer's process id (to stop it with SIGSTOP, as a device that hangs would).</summary>
    public int Id => _process.Id;

    public static PeerProcess Start(string fileName, string arguments)
    {
        var info = new ProcessStartInfo(fileName, arguments)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var process = new Process { StartInfo = info };
        var peer = new PeerProcess(process);
        process.OutputDataReceived += (_, e) => peer.Collect(e.Data);
        process.ErrorDataReceived += (_, e) => peer.Collect(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return peer;
    }

    /// <summary>
    /// Starts the peer, writes one line once it is connected, waits for that line to come back (or for the
    /// process to give up), then closes stdin so the peer sends close_notify and exits. Returns the output.
    /// </summary>
    public static async Task<string> ExchangeLineAsync(string fileName, string arguments, string line, bool expectEcho = true)
    {
        await using var peer = Start(fileName, arguments);
        var echoed = peer.WhenLine(text => text.Contains(line, StringComparison.Ordinal) && !text.Contains("send", StringComparison.OrdinalIgnoreCase));
        await peer.WriteLineAsync(line);
        var finished = await Task.WhenAny(echoed, peer._process.WaitForExitAsync(), Task.Delay(expectEcho ? Wait : TimeSpan.FromSeconds(3)));
        await peer.CloseInputAndWaitAsync(TimeSpan.FromSeconds(5));
        if (expectEcho && finished != echoed)
        {
            Assert.Fail($"{fileName} did not echo in time:\n{peer.Output}");
        }

        return peer.Output;
    }

    /// <summary>Completes when a line matching <paramref name="match"/> is (or was already) printed.</summary>
    public Task WhenLine(Func<string, bool> match)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_output)
        {
            if (_output.ToString().Split('\n').Any(match))
            {
                seen.TrySetResult();
            }
            else
            {
                _waiters.Add((match, seen));
            }
        }

        return seen.Task;
    }

    /// <summary>Waits up to <see cref="Wait"/> for a line containing <paramref name="text"/>; fails the test with the output otherwise.</summary>
    public async Task WaitForTextAsync(string text)
    {
        var seen = WhenLine(l => l.Contains(text, StringComparison.Ordinal));
        var finished = await Task.WhenAny(seen, Task.Delay(Wait));
        if (finished != seen)
        {
            Assert.Fail($"'{text}' did not appear in time:\n{Output}");
        }
    }

    /// <summary>Waits up to <see cref="Wait"/> for the process to exit; fails the test with the output otherwise.</summary>
    public async Task WaitForExitAsync()
    {
        using var limit = new CancellationTokenSource(Wait);
        try
        {
            await _process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"The peer did not exit in time:\n{Output}");
        }
    }

    public async Task WriteLineAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>Closes stdin (the peers then close their session and exit) and waits; kills the peer after <paramref name="limit"/>.</summary>
    public async Task CloseInputAndWaitAsync(TimeSpan limit)
    {
        _process.StandardInput.Close();
        using var cts = new CancellationTokenSource(limit);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
        }
    }

    /// <summary>Kills the peer at once (SIGKILL): it sends nothing more, not even an alert, as a crashed device would.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Collect(string? text)
    {
        if (text is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Append(text).Append('\n');
            foreach (var waiter in _waiters.ToList())
            {
                if (waiter.Match(text))
                {
                    waiter.Seen.TrySetResult();
                    _waiters.Remove(waiter);
                }
            }
        }
    }
}
