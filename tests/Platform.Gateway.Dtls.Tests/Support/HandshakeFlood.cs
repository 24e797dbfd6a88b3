using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Platform.Gateway.Dtls.Tests.Support;

/// <summary>
/// A handshake flood from many UDP ports of several loopback addresses. Each port does the cookie exchange once;
/// the cookie stays valid for its address and port, so from then on the port sends, blindly, its ClientHello with
/// that cookie followed by a fatal alert: every pair costs the server a new session and, for a ClientHello that
/// names a tenant with a certificate, a signed first flight, while it costs the sender two small datagrams.
/// </summary>
internal sealed class HandshakeFlood : IDisposable
{
    private readonly List<(Socket Socket, byte[] Hello)> _ports;
    private long _hellosSent;

    private HandshakeFlood(List<(Socket Socket, byte[] Hello)> ports) => _ports = ports;

    /// <summary>ClientHellos with a cookie sent so far (in <see cref="RunAsync"/> each followed by an alert).</summary>
    public long HellosSent => Interlocked.Read(ref _hellosSent);

    public int Ports => _ports.Count;

    /// <summary>Opens <paramref name="portsPerAddress"/> ports on each of 127.0.0.2 and up and fetches each one's cookie.</summary>
    public static async Task<HandshakeFlood> PrepareAsync(IPEndPoint server, string? serverName, int addresses, int portsPerAddress, bool offerPsk = false)
    {
        var hello = DtlsServerTests.ClientHello(serverName, offerPsk);
        var ports = new List<(Socket, byte[])>();
        try
        {
            var buffer = new byte[2048];
            for (var a = 0; a < addresses; a++)
            {
                for (var p = 0; p < portsPerAddress; p++)
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                    ports.Add((socket, []));
                    socket.Bind(new IPEndPoint(new IPAddress([127, 0, 0, (byte)(2 + a)]), 0));
                    socket.Connect(server);
                    var cookie = await CookieAsync(socket, hello, buffer);
                    ports[^1] = (socket, StalledClient.WithCookie(hello, cookie));
                }
            }

            return new HandshakeFlood(ports);
        }
        catch
        {
            ports.ForEach(p => p.Item1.Dispose());
            throw;
        }
    }

    /// <summary>
    /// Sends <paramref name="pairsPerSecond"/> pairs, round robin over the ports, until <paramref name="duration"/> has
    /// passed. Runs on a thread of its own so the pace does not depend on the thread pool the server also uses.
    /// </summary>
    public Task RunAsync(int pairsPerSecond, TimeSpan duration) =>
        Task.Factory.StartNew(() => Run(pairsPerSecond, duration), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(int pairsPerSecond, TimeSpan duration)
    {
        var alert = Alert();
        var started = Stopwatch.GetTimestamp();
        var next = 0;
        while (Stopwatch.GetElapsedTime(started) is var elapsed && elapsed < duration)
        {
            var due = (long)(elapsed.TotalSeconds * pairsPerSecond);
            while (HellosSent < due)
            {
                var (socket, hello) = _ports[next];
                next = (next + 1) % _ports.Count;
                try
                {
                    socket.Send(hello);
                    socket.Send(alert);
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
                {
                    // An ICMP error for an earlier datagram; the flood goes on.
                }

                Interlocked.Increment(ref _hellosSent);
            }

            // Only sets the pace; nothing depends on how long the sleep really takes.
            Thread.Sleep(2);
        }
    }

    /// <summary>Sends each port's ClientHello with its cookie once, and nothing after it: every one a half-open handshake.</summary>
    public void SendHellosOnce()
    {
        foreach (var (socket, hello) in _ports)
        {
            socket.Send(hello);
            Interlocked.Increment(ref _hellosSent);
        }
    }

    private static async Task<byte[]> CookieAsync(Socket socket, byte[] hello, byte[] buffer)
    {
        for (var attempt = 0; ; attempt++)
        {
            socket.Send(hello);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                var length = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                // HelloVerifyRequest: record header 13, handshake header 12, version 2, then the cookie with its length.
                Assert.Equal(3, buffer[13]);
                var cookieLength = buffer[13 + 12 + 2];
                Assert.True(length >= 13 + 12 + 3 + cookieLength);
                return buffer.AsSpan(13 + 12 + 3, cookieLength).ToArray();
            }
            catch (OperationCanceledException) when (attempt < 5)
            {
                // UDP: ask again.
            }
        }
    }

    /// <summary>A plaintext fatal handshake_failure alert, epoch 0, record sequence 2 (after the ClientHello's 1).</summary>
    private static byte[] Alert() => [21, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2, 2, 40];

    public void Dispose() => _ports.ForEach(p => p.Socket.Dispose());
}
