using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Platform.Gateway.Tests.Support;

/// <summary>
/// <c>openssl s_client</c> as a child process: bounded waits, output captured, and the process killed
/// (with its tree) when the client is disposed, whatever state it is in.
/// </summary>
internal sealed class OpenSslClient : IAsyncDisposable
{
    private static readonly TimeSpan DefaultLimit = TimeSpan.FromSeconds(20);
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _error = new();
    private readonly Lock _lock = new();
    private readonly Task _stdout;
    private readonly Task _stderr;

    private OpenSslClient(Process process)
    {
        _process = process;
        _stdout = PumpAsync(process.StandardOutput, _output);
        _stderr = PumpAsync(process.StandardError, _error);
    }

    /// <summary>Everything written to standard output so far.</summary>
    public string Output
    {
        get
        {
            lock (_lock)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Everything written to standard error so far.</summary>
    public string Error
    {
        get
        {
            lock (_lock)
            {
                return _error.ToString();
            }
        }
    }

    /// <summary>Output and error together, for assertion messages.</summary>
    public string Transcript => $"--- stdout ---\n{Output}\n--- stderr ---\n{Error}";

    /// <summary>The server certificate s_client printed, if the handshake got that far.</summary>
    public X509Certificate2? ServerCertificate
    {
        get
        {
            var text = Output;
            var begin = text.IndexOf("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal);
            var end = text.IndexOf("-----END CERTIFICATE-----", StringComparison.Ordinal);
            return begin < 0 || end < begin ? null : X509Certificate2.CreateFromPem(text.AsSpan(begin, end + "-----END CERTIFICATE-----".Length - begin));
        }
    }

    /// <summary>
    /// Starts <c>openssl s_client -connect</c> against <paramref name="server"/>; <paramref name="serverName"/>
    /// null sends no SNI. <paramref name="extra"/> adds options such as <c>-tls1_3</c> or <c>-cert</c>.
    /// </summary>
    public static OpenSslClient Start(IPEndPoint server, string? serverName, params string[] extra)
    {
        var info = new ProcessStartInfo("openssl")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("s_client");
        info.ArgumentList.Add("-connect");
        info.ArgumentList.Add(string.Create(CultureInfo.InvariantCulture, $"{server.Address}:{server.Port}"));
        if (serverName is null)
        {
            info.ArgumentList.Add("-noservername");
        }
        else
        {
            info.ArgumentList.Add("-servername");
            info.ArgumentList.Add(serverName);
        }

        foreach (var argument in extra)
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("openssl did not start.");
        return new OpenSslClient(process);
    }

    /// <summary>
    /// One handshake and nothing else: standard input is closed at once, so s_client handshakes, prints
    /// what it saw and exits. Returns the finished client (exit code in <see cref="ExitCode"/>).
    /// </summary>
    public static async Task<OpenSslClient> HandshakeAsync(IPEndPoint server, string? serverName, params string[] extra)
    {
        var client = Start(server, serverName, extra);
        client._process.StandardInput.Close();
        await client.WaitForExitAsync();
        return client;
    }

    /// <summary>Exit code once exited.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Writes text to s_client's standard input (sent to the server once the handshake is done).</summary>
    public async Task WriteAsync(string text)
    {
        await _process.StandardInput.WriteAsync(text);
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>Waits until standard output contains <paramref name="text"/>; fails with the transcript otherwise.</summary>
    public async Task WaitForOutputAsync(string text)
    {
        using var limit = new CancellationTokenSource(DefaultLimit);
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (_process.HasExited && _stdout.IsCompleted && !Output.Contains(text, StringComparison.Ordinal))
            {
                Assert.Fail($"openssl exited before printing '{text}'.\n{Transcript}");
            }

            try
            {
                await Task.Delay(20, limit.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"openssl did not print '{text}' within {DefaultLimit.TotalSeconds} s.\n{Transcript}");
            }
        }
    }

    /// <summary>Waits for the process to exit on its own (the server closed, or input ended); kills it and fails otherwise.</summary>
    public async Task WaitForExitAsync()
    {
        using var limit = new CancellationTokenSource(DefaultLimit);
        try
        {
            await _process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            Assert.Fail($"openssl did not exit within {DefaultLimit.TotalSeconds} s.\n{Transcript}");
        }

        // The pumps finish once the pipes are drained after exit.
        await Task.WhenAll(_stdout, _stderr).WaitAsync(DefaultLimit);
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        await _process.WaitForExitAsync();
        await Task.WhenAll(_stdout, _stderr).WaitAsync(DefaultLimit);
        _process.Dispose();
    }

    private void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
    }

    private async Task PumpAsync(StreamReader reader, StringBuilder into)
    {
        var buffer = new char[4096];
        int read;
        while ((read = await reader.ReadAsync(buffer)) > 0)
        {
            lock (_lock)
            {
                into.Append(buffer, 0, read);
            }
        }
    }
}
