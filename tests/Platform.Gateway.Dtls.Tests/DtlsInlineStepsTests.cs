using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Platform.Gateway.Dtls.Tests.Support;

namespace Platform.Gateway.Dtls.Tests;

/// <summary>
/// Session steps run by the receive threads themselves (<see cref="DtlsServerOptions.InlineSteps"/>): handshakes and
/// records stay correct and in order, a datagram waiting on the socket sends the next step to the workers, and the
/// budget bounds the thread's share of inline work.
/// </summary>
public sealed class DtlsInlineStepsTests
{
    private static readonly TestTenants Pki = new();
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task InlineSteps_ManyClients_HandshakeAndEchoInOrder_AndStepsRunOnTheReceiveThreads()
    {
        const int clients = 16;
        const int datagramsEach = 20;
        var admittedOn = new ConcurrentQueue<string?>();
        var handler = new TestHandler { Admission = _ => Record(admittedOn) };
        await using var server = TestTenants.StartServer(Pki.Directory(), handler, o =>
        {
            o.ReceiveSockets = 2;
            o.ReceiveThreads = true;
            o.InlineSteps = true;
        });

        var connected = new List<DtlsTestClient>();
        try
        {
            // Eight at a time: the listener allows 16 half-open handshakes per source, and every client is 127.0.0.1.
            for (var i = 0; i < clients; i += 8)
            {
                connected.AddRange(await Task.WhenAll(Enumerable.Range(i, 8).Select(n => DtlsTestClient.ConnectAsync(server.LocalEndPoint, n % 2 == 0
                    ? new DtlsClientOptions { ServerName = "alpha.dtls.test", Timeout = Wait }
                    : new DtlsClientOptions { PskIdentity = "beta/dev1", PskKey = TestTenants.BetaKey, CipherList = "ECDHE-PSK-AES128-CBC-SHA256", Timeout = Wait }))));
            }

            await Task.WhenAll(connected.Select((client, n) => Task.Run(async () =>
            {
                for (var k = 0; k < datagramsEach; k++)
                {
                    client.Send([(byte)n, (byte)k]);
                }

                for (var k = 0; k < datagramsEach; k++)
                {
                    var echoed = await client.ReceiveAsync(Wait);
                    Assert.Equal(new byte[] { (byte)n, (byte)k }, echoed);
                }
            })));

            Assert.Equal(clients, server.Counters.HandshakesCompleted);
            Assert.Equal(0, server.Counters.HandshakesFailed);
            Assert.Equal(clients, server.SessionCount);
            Assert.Equal(0, server.Counters.InternalErrors);
            Assert.Equal(0, server.Counters.SessionQueueDropped);

            // The receive threads ran steps themselves: every admission happened on one of them or on a pool worker.
            Assert.True(server.ReceiveSocketList.Sum(s => s.InlineSteps) > 0, "no step ran inline");
            Assert.Equal(clients, admittedOn.Count);
            Assert.All(admittedOn, name => Assert.True(name is null || name.StartsWith("DTLS receive ", StringComparison.Ordinal), name));

            // Each client's close_notify ends its session (read inline or on a worker), answered with the server's own.
            connected.ForEach(c => c.SendCloseNotify());
            await WaitUntilAsync(() => server.SessionCount == 0);
            Assert.Equal(clients, server.Counters.SessionsClosed);
            Assert.Equal(0, server.UnassignedHandshakes);
        }
        finally
        {
            connected.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task InlineSteps_DatagramWaitingOnTheSocket_NextStepGoesToAWorker()
    {
        var admittedOn = new ConcurrentDictionary<string, (string? Thread, bool Pool)>(StringComparer.Ordinal);
        using var entered = new SemaphoreSlim(0);
        using var gate = new ManualResetEventSlim(false);
        var handler = new TestHandler
        {
            Admission = session =>
            {
                admittedOn[session.ServerName ?? ""] = (Thread.CurrentThread.Name, Thread.CurrentThread.IsThreadPoolThread);
                if (session.ServerName == "alpha.dtls.test")
                {
                    // Holds the thread running this step until the test has queued datagrams behind it.
                    entered.Release();
                    Assert.True(gate.Wait(Wait), "gate not opened");
                }

                return DtlsAdmission.Accept;
            },
        };
        await using var server = TestTenants.StartServer(Pki.Directory(), handler, o =>
        {
            o.ReceiveSockets = 1;
            o.ReceiveThreads = true;
            o.InlineSteps = true;
        });

        // A budget that never refuses: only the waiting datagram can send the step to a worker here.
        var receive = server.ReceiveSocketList[0];
        receive.ReplaceInlineBudget(new DtlsInlineBudget(1.0, TimeSpan.FromHours(1), Stopwatch.GetTimestamp()));

        using var a = Connect(server.LocalEndPoint);
        using var b = Connect(server.LocalEndPoint);
        using var c = Connect(server.LocalEndPoint);
        var helloA = await WithCookieAsync(a, DtlsServerTests.ClientHello("alpha.dtls.test"));
        var helloB = await WithCookieAsync(b, DtlsServerTests.ClientHello("beta.dtls.test"));

        // A's first step runs on the idle receive thread, which its admission then holds.
        a.Send(helloA);
        Assert.True(await entered.WaitAsync(Wait), "A's admission did not run");
        Assert.Equal(("DTLS receive 0", false), admittedOn["alpha.dtls.test"]);

        // Behind it on the socket: B's verified ClientHello, then C's cookie-less one (sent on loopback, both are
        // queued when the calls return). When the thread reads B's, C's is still waiting: B's step goes to a worker.
        b.Send(helloB);
        c.Send(DtlsServerTests.ClientHello("alpha.dtls.test"));
        gate.Set();

        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(Wait);
        var length = await b.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        Assert.True(length > 13 + 12);
        Assert.Equal(2, buffer[13]); // B's ServerHello flight
        length = await c.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        Assert.Equal(3, buffer[13]); // C's HelloVerifyRequest
        length = await a.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        Assert.Equal(2, buffer[13]); // A's ServerHello flight, once its admission returned

        var (thread, pool) = admittedOn["beta.dtls.test"];
        Assert.True(pool, $"B's step ran on {thread}, not on a pool worker");
        Assert.Equal(1, receive.InlineSteps);
        Assert.Equal(2, server.Counters.HandshakesStarted);
        Assert.Equal(0, server.Counters.InternalErrors);
    }

    [Fact]
    public void InlineBudget_LongStep_RefusesUntilHalfItsTimeHasPassed_ThenAllowsAgain()
    {
        var second = Stopwatch.Frequency;
        var start = 1_000 * second;
        var budget = new DtlsInlineBudget(0.5, TimeSpan.FromMilliseconds(2), start);

        Assert.True(budget.TryEnter(start));
        // A step of 100 ms: the bucket (2 ms) fills by 50 ms meanwhile, so it ends 48 ms in debt, and at half the
        // rate the thread is refused for 96 ms more: 100 ms of inline work in 196 ms, half of it plus the burst.
        budget.Charge(start, start + (second / 10));
        var after = start + (second / 10);
        Assert.False(budget.TryEnter(after));
        Assert.False(budget.TryEnter(after + (second * 90 / 1000)));
        Assert.True(budget.TryEnter(after + (second * 100 / 1000)));
        Assert.Equal(2, budget.Refused);
        Assert.Equal(1, budget.Steps);
    }

    [Fact]
    public void InlineBudget_ManyShortSteps_NeverMoreThanHalfTheTimePlusOneBurst()
    {
        var second = Stopwatch.Frequency;
        var now = 5 * second;
        var budget = new DtlsInlineBudget(0.5, TimeSpan.FromMilliseconds(2), now);
        var step = second / 10_000; // 100 µs steps, back to back whenever allowed, 10 µs apart otherwise
        long inline = 0;
        var end = now + second;
        while (now < end)
        {
            if (budget.TryEnter(now))
            {
                budget.Charge(now, now + step);
                inline += step;
                now += step;
            }
            else
            {
                now += step / 10;
            }
        }

        // One second of wall time: at most half of it plus the 2 ms burst and one step went to inline work.
        Assert.True(inline <= (second / 2) + (second / 500) + step, $"inline {inline * 1000.0 / second:F1} ms");
        Assert.True(inline >= second * 45 / 100, $"inline {inline * 1000.0 / second:F1} ms");
    }

    private static DtlsAdmission Record(ConcurrentQueue<string?> admittedOn)
    {
        admittedOn.Enqueue(Thread.CurrentThread.IsThreadPoolThread ? null : Thread.CurrentThread.Name);
        return DtlsAdmission.Accept;
    }

    private static Socket Connect(IPEndPoint server)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.Connect(server);
        return socket;
    }

    /// <summary>The cookie exchange: the ClientHello again, with the cookie of the listener's HelloVerifyRequest.</summary>
    private static async Task<byte[]> WithCookieAsync(Socket socket, byte[] hello)
    {
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(Wait);
        socket.Send(hello);
        var length = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        Assert.Equal(3, buffer[13]);
        var cookieLength = buffer[13 + 12 + 2];
        Assert.True(length >= 13 + 12 + 3 + cookieLength);
        return StalledClient.WithCookie(hello, buffer.AsSpan(13 + 12 + 3, cookieLength).ToArray());
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached in time");
            await Task.Delay(20);
        }
    }
}
