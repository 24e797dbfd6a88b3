using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Xunit;

namespace Platform.Testing;

/// <summary>
/// A real DNS server for the test: dnsmasq on 127.0.0.1 and a free port, answering only the records it is given
/// (NXDOMAIN for other names under <c>127.in-addr.arpa</c>, <c>ip6.arpa</c> and the zones named; it forwards nothing),
/// and logging every query it receives so tests can count them. Killed on dispose.
/// </summary>
public sealed partial class Dnsmasq : IAsyncDisposable
{
    private const string Program = "/usr/sbin/dnsmasq";
    private readonly PeerProcess _process;
    private int _syncs;

    private Dnsmasq(PeerProcess process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    /// <summary>The value of <c>Platform:DnsServers:0</c> that points a gateway or a silo at this server.</summary>
    public string Server => $"127.0.0.1:{Port}";

    /// <param name="records">dnsmasq record options such as <c>--ptr-record=…</c> and <c>--host-record=…</c>.</param>
    /// <param name="zones">Zones answered from <paramref name="records"/> alone (unknown names there are NXDOMAIN).</param>
    /// <param name="ttlSeconds">TTL of the answers.</param>
    /// <param name="port">The port to listen on (one chosen with <see cref="FreePorts.TcpAndUdp"/> before, when the server's address must be
    /// known before its records are); a free one when null.</param>
    public static async Task<Dnsmasq> StartAsync(IEnumerable<string> records, IEnumerable<string> zones, int ttlSeconds = 300, int? port = null)
    {
        Assert.True(File.Exists(Program), $"{Program} is missing: apt-get install -y dnsmasq-base (infra/test.sh does).");
        port ??= FreePorts.TcpAndUdp();
        var arguments = string.Join(' ', new[]
        {
            "--conf-file=/dev/null", "--pid-file=", "--user=root", "--no-resolv", "--no-hosts", "--bind-interfaces",
            "--listen-address=127.0.0.1", $"--port={port}", "--keep-in-foreground", "--log-queries", "--log-facility=-",
            $"--local-ttl={ttlSeconds}", "--local=/127.in-addr.arpa/", "--local=/ip6.arpa/",
        }.Concat(zones.Select(z => $"--local=/{z}/")).Concat(records));
        var process = PeerProcess.Start(Program, arguments);
        var server = new Dnsmasq(process, port.Value);
        await process.WaitForTextAsync("cleared cache");
        return server;
    }

    /// <summary>
    /// Sends a query of its own and waits until dnsmasq has logged it: dnsmasq handles and logs queries in order, so
    /// every query that reached it before is in <see cref="Log"/> afterwards.
    /// </summary>
    public async Task SyncAsync()
    {
        var name = $"sync-{Interlocked.Increment(ref _syncs)}.invalid";
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        var question = new List<byte> { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
        foreach (var label in name.Split('.'))
        {
            question.Add((byte)label.Length);
            question.AddRange(System.Text.Encoding.ASCII.GetBytes(label));
        }

        question.AddRange([0, 0, 16, 0, 1]);
        await socket.SendToAsync(question.ToArray(), new IPEndPoint(IPAddress.Loopback, Port));
        await _process.WaitForTextAsync($"query[TXT] {name} ");
    }

    /// <summary>Queries of <paramref name="type"/> (PTR, A, AAAA) logged so far, optionally for one name only; see <see cref="SyncAsync"/>.</summary>
    public int Queries(string type, string? name = null) =>
        QueryLine().Matches(_process.Output).Count(m => m.Groups[1].Value == type && (name is null || m.Groups[2].Value == name));

    public string Log => _process.Output;

    public ValueTask DisposeAsync() => _process.DisposeAsync();

    /// <summary>A dnsmasq option serving a TXT record.</summary>
    public static string Txt(string name, string value) => $"--txt-record={name},{value}";

    [GeneratedRegex(@"query\[(\w+)\] (\S+) from ", RegexOptions.CultureInvariant)]
    private static partial Regex QueryLine();
}
