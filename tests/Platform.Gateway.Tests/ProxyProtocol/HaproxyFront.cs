using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Platform.Testing;

namespace Platform.Gateway.Tests.ProxyProtocol;

/// <summary>
/// HAProxy (the Debian package) in TCP mode on a free loopback port in front of one gateway listener, sending a PROXY
/// header (<c>send-proxy</c> for v1, <c>send-proxy-v2</c>) from <see cref="SourceAddress"/>, so the gateway sees the
/// balancer at an address of its own and the client at another.
/// </summary>
internal sealed class HaproxyFront : IAsyncDisposable
{
    /// <summary>The address HAProxy connects to the gateway from.</summary>
    public static readonly IPAddress SourceAddress = IPAddress.Parse("127.0.0.3");

    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(20);
    private readonly PeerProcess _process;
    private readonly string _directory;

    private HaproxyFront(PeerProcess process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        EndPoint = new IPEndPoint(IPAddress.Loopback, port);
    }

    /// <summary>Where clients connect.</summary>
    public IPEndPoint EndPoint { get; }

    /// <param name="version">1 for <c>send-proxy</c>, 2 for <c>send-proxy-v2</c>.</param>
    public static async Task<HaproxyFront> StartAsync(int gatewayPort, int version)
    {
        var port = FreePorts.Tcp();
        var directory = Directory.CreateTempSubdirectory("haproxy-").FullName;
        var config = Path.Combine(directory, "haproxy.cfg");
        var sendProxy = version == 1 ? "send-proxy" : "send-proxy-v2";
        await File.WriteAllTextAsync(config, string.Create(CultureInfo.InvariantCulture, $"""
            global
                maxconn 256
            defaults
                mode tcp
                timeout connect 10s
                timeout client 120s
                timeout server 120s
            frontend clients
                bind 127.0.0.1:{port}
                default_backend gateway
            backend gateway
                server gw 127.0.0.1:{gatewayPort} {sendProxy} source {SourceAddress}

            """));
        var process = PeerProcess.Start("haproxy", $"-db -f {config}");
        var front = new HaproxyFront(process, directory, port);
        await front.WaitListeningAsync();
        return front;
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>
    /// Until HAProxy has bound its port, found by trying to bind it: a probe connection would reach the gateway with a
    /// header of its own and show in its counters.
    /// </summary>
    private async Task WaitListeningAsync()
    {
        using var limit = new CancellationTokenSource(WaitLimit);
        while (true)
        {
            if (_process.HasExited)
            {
                Assert.Fail($"haproxy exited:{_process.Output}");
            }

            using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
            {
                try
                {
                    probe.Bind(EndPoint);
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
                {
                    return;
                }
            }

            try
            {
                await Task.Delay(50, limit.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"haproxy did not bind {EndPoint} in time:{_process.Output}");
            }
        }
    }
}
