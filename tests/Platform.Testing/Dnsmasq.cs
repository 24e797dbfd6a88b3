using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Xunit;

namespace Platform.Testing;

/// <summary>
/// A real DNS server for tests: dnsmasq on 127.0.0.1 and a free port, serving only the records given and answering
/// NXDOMAIN for other names under <c>localDomains</c>; it forwards nothing anywhere. Killed on dispose.
/// </summary>
public sealed class Dnsmasq : IAsyncDisposable
{
    private const string Executable = "/usr/sbin/dnsmasq";
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private Dnsmasq(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    /// <summary><c>127.0.0.1:port</c>, the form of <c>Platform:DnsServers</c>.</summary>
    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>A UDP (and TCP) port free on loopback right now, for a server started later.</summary>
    public static int FreePort()
    {
        for (var attempt = 0; ; attempt++)
        {
            using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            var port = ((IPEndPoint)udp.LocalEndPoint!).Port;
            using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                tcp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException) when (attempt < 20)
            {
            }
        }
    }

    /// <summary>Starts dnsmasq on <paramref name="port"/> with TXT records (name, value) and waits until it answers.</summary>
    public static async Task<Dnsmasq> StartAsync(int port, IEnumerable<(string Name, string Value)> txtRecords, params string[] localDomains)
    {
        ArgumentNullException.ThrowIfNull(txtRecords);
        Assert.True(File.Exists(Executable), $"{Executable} is missing: apt-get install -y dnsmasq (infra/test.sh does).");
        var arguments = new List<string>
        {
            "--user=root", "--no-resolv", "--no-hosts", "--bind-interfaces", "--listen-address=127.0.0.1",
            $"--port={port}", "--keep-in-foreground", "--log-facility=-", "--log-queries", "--conf-file=/dev/null",
        };
        arguments.AddRange(localDomains.Select(d => $"--local=/{d}/"));
        arguments.AddRange(txtRecords.Select(r => $"--txt-record={r.Name},{r.Value}"));
        var info = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("dnsmasq did not start.");
        var server = new Dnsmasq(process, port);
        process.OutputDataReceived += (_, e) => server.Collect(e.Data);
        process.ErrorDataReceived += (_, e) => server.Collect(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await server.WaitUntilServingAsync();
        return server;
    }

    /// <summary>What dnsmasq logged (its start-up and each query), for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    private void Collect(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    // Ready once a TCP connection to its port succeeds (dnsmasq opens UDP and TCP together).
    private async Task WaitUntilServingAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"dnsmasq exited with {_process.ExitCode}:\n{Output}");
            }

            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
