using System.Net;
using Platform.Gateway.Dtls.Bc;
using Platform.Gateway.Dtls.Tests.Bc;
using Platform.Gateway.Dtls.Tests.Support;

namespace Platform.Gateway.Dtls.Tests;

/// <summary>
/// A listener stopped with everything live: established sessions of both engines with datagrams on their way,
/// OpenSSL and BouncyCastle handshakes parked half-way (a BouncyCastle handshake thread blocked waiting for the
/// client's flight), and OpenSSL handshakes racing the stop. The stop ends every session, frees every OpenSSL object
/// once, gives back every handshake place, closes every socket and lets no exception out.
/// </summary>
public sealed class DtlsServerStopTests
{
    private static readonly TestTenants Pki = new();
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    // Far above any wait of the test: a stop of the listener, not a handshake timeout, must end the parked handshakes.
    private static readonly TimeSpan NoTimeout = TimeSpan.FromMinutes(10);

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public async Task Stop_SessionsAndHandshakesOfBothEnginesLive_EndsEverythingOnce(bool receiveThreads, bool closeNotify)
    {
        var handler = new TestHandler();
        var logger = new TestLogger();
        var directory = Pki.Directory(BcInteropTests.WithFeatures(Pki.Alpha(), new DtlsFeatureSettings { ConnectionIdLength = 8 }), Pki.Beta());
        var server = TestTenants.StartServer(directory, handler, o =>
        {
            o.ReceiveSockets = 2;
            o.ReceiveThreads = receiveThreads;
            o.HandshakeTimeout = NoTimeout;
            o.BcHandshakeTimeout = NoTimeout;
        }, logger);
        var endPoint = new IPEndPoint(IPAddress.Loopback, server.LocalEndPoint.Port);
        var openSsl = new List<DtlsTestClient>();
        var bc = new List<BcTestClient>();
        var stalled = new List<StalledClient>();
        var racing = new List<Task<DtlsTestClient?>>();
        try
        {
            // Established: four OpenSSL sessions (beta has no connection IDs) and four BouncyCastle ones (alpha's clients offering one).
            for (var i = 0; i < 4; i++)
            {
                openSsl.Add(await DtlsTestClient.ConnectAsync(endPoint, new DtlsClientOptions { PskIdentity = "beta/dev1", PskKey = TestTenants.BetaKey, CipherList = "ECDHE-PSK-AES128-CBC-SHA256" }));
                bc.Add(await Task.Run(() => BcTestClient.Connect(endPoint, "alpha.dtls.test", "alpha/dev1", TestTenants.AlphaKey, connectionId: true, heartbeat: false)));
            }

            var opened = new List<DtlsSession>();
            for (var i = 0; i < 8; i++)
            {
                opened.Add(await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait));
            }

            Assert.Equal(4, opened.Count(s => s.Engine == DtlsEngines.BouncyCastle));

            // Parked half-way: three OpenSSL handshakes after the ServerHello flight, three BouncyCastle ones whose
            // handshake threads wait for the client's key exchange.
            for (var i = 0; i < 3; i++)
            {
                var client = new StalledClient(endPoint, "alpha.dtls.test");
                stalled.Add(client);
                await client.ReachServerHelloAsync();
                var bcClient = new StalledClient(endPoint, "alpha.dtls.test");
                stalled.Add(bcClient);
                await bcClient.ReachServerHelloAsync(BcTestClient.FirstClientHello("alpha.dtls.test", "alpha/dev1", TestTenants.AlphaKey));
            }

            await Poll.UntilAsync(() => server.BcHandshakes == 3 && server.SessionCount == 14, Wait, () => $"{server.BcHandshakes} BouncyCastle handshakes, {server.SessionCount} sessions");
            Assert.True(server.Counters.OpenSslObjectsHeld >= 7, $"{server.Counters.OpenSslObjectsHeld} OpenSSL objects held");

            // Datagrams on their way into every established session, and new OpenSSL handshakes racing the stop.
            foreach (var client in openSsl)
            {
                for (var i = 0; i < 8; i++)
                {
                    client.Send([1, 2, 3, (byte)i]);
                }
            }

            foreach (var client in bc)
            {
                for (var i = 0; i < 8; i++)
                {
                    client.Send("data " + i);
                }
            }

            for (var i = 0; i < 6; i++)
            {
                racing.Add(RaceAsync(endPoint));
            }

            var sessions = server.Sessions.ToList();
            var stop = closeNotify ? server.StopAsync() : server.DisposeAsync().AsTask();
            await stop.WaitAsync(TimeSpan.FromMinutes(2));

            Assert.Equal(0, server.SessionCount);
            Assert.All(sessions, s => Assert.True(s.IsClosed, $"session {s.Id} ({s.Engine}) still open"));
            Assert.Equal(0, server.Counters.OpenSslObjectsHeld);
            Assert.Equal(0, server.BcHandshakes);
            Assert.Equal(0, server.Timers.Count);
            Assert.All(server.ReceiveSocketList, s => Assert.True(s.Socket.SafeHandle.IsClosed, $"socket {s.Index} still open"));
            Assert.Equal(0, server.Counters.InternalErrors);
            Assert.DoesNotContain(logger.Entries, e => e.StartsWith("Error", StringComparison.Ordinal) || e.StartsWith("Critical", StringComparison.Ordinal));

            // Every session the handler saw opened (the racing ones included) was reported closed by the stop, and no
            // session twice (parked handshakes whose tenant was admitted are reported too).
            var closedIds = new List<ulong>();
            while (handler.Closed.Reader.TryRead(out var closed))
            {
                Assert.Equal(DtlsCloseReason.ServerStopping, closed.Reason);
                closedIds.Add(closed.Session.Id);
            }

            while (handler.Opened.Reader.TryRead(out var late))
            {
                opened.Add(late);
            }

            Assert.Equal(closedIds.Count, closedIds.Distinct().Count());
            Assert.Empty(opened.Select(s => s.Id).Except(closedIds));

            // A second stop finds nothing left to do.
            await server.DisposeAsync();
            Assert.Equal(0, server.Counters.OpenSslObjectsHeld);
        }
        finally
        {
            await server.DisposeAsync();
            foreach (var client in await Task.WhenAll(racing))
            {
                client?.Dispose();
            }

            openSsl.ForEach(c => c.Dispose());
            bc.ForEach(c => c.Dispose());
            stalled.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task Dispose_CalledTwiceAtOnce_TheSecondCallerWaitsForTheWholeStop()
    {
        var handler = new TestHandler();
        var server = TestTenants.StartServer(Pki.Directory(BcInteropTests.WithFeatures(Pki.Alpha(), new DtlsFeatureSettings { ConnectionIdLength = 8 }), Pki.Beta()), handler, o => o.ReceiveSockets = 2);
        var endPoint = new IPEndPoint(IPAddress.Loopback, server.LocalEndPoint.Port);
        using var openSsl = await DtlsTestClient.ConnectAsync(endPoint, new DtlsClientOptions { PskIdentity = "beta/dev1", PskKey = TestTenants.BetaKey, CipherList = "ECDHE-PSK-AES128-CBC-SHA256" });
        using var bc = await Task.Run(() => BcTestClient.Connect(endPoint, "alpha.dtls.test", "alpha/dev1", TestTenants.AlphaKey, connectionId: true, heartbeat: false));
        await Poll.UntilAsync(() => server.SessionCount == 2 && server.Counters.HandshakesCompleted == 2, Wait, () => $"{server.SessionCount} sessions, {server.Counters.HandshakesCompleted} handshakes completed");

        // The host's stop and a dispose of the same listener (e.g. a dedicated port retired while the gateway stops).
        var first = server.StopAsync();
        await server.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromMinutes(2));

        // Returned only once everything was released, although the first call may still be finishing its own await.
        Assert.Equal(0, server.SessionCount);
        Assert.Equal(0, server.Counters.OpenSslObjectsHeld);
        Assert.All(server.ReceiveSocketList, s => Assert.True(s.Socket.SafeHandle.IsClosed, $"socket {s.Index} still open"));
        await first.WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(0, server.Counters.InternalErrors);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Dispose_WhileDatagramsArrive_EveryReceiveLoopEndsWithoutFault(bool receiveThreads)
    {
        // First ClientHellos (answered by the cookie layer) and cookie-bearing BouncyCastle ones (each starts, or
        // replaces, a BouncyCastle handshake), sent until the listener is gone.
        var hello = DtlsServerTests.ClientHello("alpha.dtls.test");
        var bcHello = BcTestClient.FirstClientHello("alpha.dtls.test", "alpha/dev1", TestTenants.AlphaKey);
        var directory = Pki.Directory(BcInteropTests.WithFeatures(Pki.Alpha(), new DtlsFeatureSettings { ConnectionIdLength = 8 }), Pki.Beta());
        for (var round = 0; round < 10; round++)
        {
            var logger = new TestLogger();
            var server = TestTenants.StartServer(directory, new TestHandler(), o =>
            {
                o.ReceiveSockets = 4;
                o.ReceiveThreads = receiveThreads;
            }, logger);
            var endPoint = new IPEndPoint(IPAddress.Loopback, server.LocalEndPoint.Port);
            using var flooding = new CancellationTokenSource();
            var senders = Enumerable.Range(0, 8).Select(n => Task.Run(async () =>
            {
                using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
                socket.Connect(endPoint);
                byte[] datagram;
                try
                {
                    datagram = n % 2 == 0 ? hello : await WithCookieAsync(socket, bcHello);
                }
                catch (System.Net.Sockets.SocketException ex) when (ex.SocketErrorCode == System.Net.Sockets.SocketError.ConnectionRefused)
                {
                    // The listener stopped before this sender had its cookie (the others' handshakes let the stop begin).
                    return;
                }

                while (!flooding.IsCancellationRequested)
                {
                    // Refused by the closed port once the listener is gone (an ICMP error): the flood goes on regardless.
                    try
                    {
                        await socket.SendAsync(datagram);
                    }
                    catch (System.Net.Sockets.SocketException)
                    {
                        await Task.Yield();
                    }
                }
            })).ToList();
            await Poll.UntilAsync(() => server.Counters.HelloVerifyRequestsSent > 4 && server.BcCounters.HandshakesStarted > 0, Wait, () => $"{server.Counters.HelloVerifyRequestsSent} hello verify requests, {server.BcCounters.HandshakesStarted} BouncyCastle handshakes");

            var fault = await Record.ExceptionAsync(() => server.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromMinutes(1)));

            await flooding.CancelAsync();
            await Task.WhenAll(senders);
            Assert.Null(fault);
            Assert.Equal(0, server.Counters.InternalErrors);
            Assert.All(server.ReceiveSocketList, s => Assert.True(s.Loop.IsCompletedSuccessfully, $"receive loop {s.Index}: {s.Loop.Status} {s.Loop.Exception}"));
            Assert.DoesNotContain(logger.Entries, e => e.StartsWith("Error", StringComparison.Ordinal));
        }
    }

    /// <summary><paramref name="first"/> with the cookie the listener answers it with, from this socket's address.</summary>
    private static async Task<byte[]> WithCookieAsync(System.Net.Sockets.Socket socket, byte[] first)
    {
        var buffer = new byte[4096];
        var deadline = DateTime.UtcNow + Wait;
        int length;
        while (true)
        {
            // The flood of the other senders may crowd this hello out of the listener's receive buffer: sent again
            // each second until answered.
            await socket.SendAsync(first);
            using var second = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            try
            {
                length = await socket.ReceiveAsync(buffer, System.Net.Sockets.SocketFlags.None, second.Token);
                break;
            }
            catch (OperationCanceledException) when (DateTime.UtcNow < deadline)
            {
                // Not answered within the second: again.
            }
        }

        // HelloVerifyRequest: record header 13, handshake header 12, version 2, then the cookie's length and bytes.
        var cookieLength = buffer[13 + 12 + 2];
        Assert.True(length >= 13 + 12 + 3 + cookieLength, $"hello verify request of {length} bytes");
        return StalledClient.WithCookie(first, buffer.AsSpan(13 + 12 + 3, cookieLength).ToArray());
    }

    /// <summary>An OpenSSL handshake started just before the stop: it completes or fails, either is the race's outcome.</summary>
    private static async Task<DtlsTestClient?> RaceAsync(IPEndPoint endPoint)
    {
        try
        {
            return await DtlsTestClient.ConnectAsync(endPoint, new DtlsClientOptions { ServerName = "alpha.dtls.test", Timeout = TimeSpan.FromSeconds(5) });
        }
        catch (Exception ex) when (ex is DtlsClientException or TimeoutException)
        {
            return null;
        }
    }
}
