using System.Net;
using System.Net.Sockets;
using Platform.Gateway.Dtls.Tests.Support;

namespace Platform.Gateway.Dtls.Tests;

/// <summary>A listener read by several SO_REUSEPORT sockets, and sessions that give their record buffers back when idle.</summary>
public sealed class DtlsReceiveSocketTests
{
    private static readonly TestTenants Pki = new();
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ReceiveSockets_ManyClientsFromDifferentPorts_AllHandshakeAndEchoInOrderOverSeveralSockets(bool receiveThreads)
    {
        const int clients = 24;
        const int datagramsEach = 20;
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler, o =>
        {
            o.ReceiveSockets = 4;
            o.ReceiveThreads = receiveThreads;
        });
        Assert.Equal(4, server.DatagramsPerSocket.Count);

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

            Assert.Equal(clients, connected.Select(c => c.LocalEndPoint.Port).Distinct().Count());

            // Each client sends its numbered datagrams back to back; its echoes must come back complete and in order.
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
            Assert.Equal(clients, server.SessionCount);
            Assert.Equal(0, server.Counters.InternalErrors);
            Assert.Equal(0, server.Counters.SessionQueueDropped);

            // 24 source ports over 4 sockets: the kernel's hash put them on more than one (all on one: 4^-23).
            Assert.True(server.DatagramsPerSocket.Count(n => n > 0) >= 2, "datagrams per socket: " + string.Join(", ", server.DatagramsPerSocket));
        }
        finally
        {
            connected.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task ReceiveSockets_ClientHellosWithoutCookie_EverySocketAnswersWithHelloVerifyRequestAndHoldsNoState()
    {
        const int ports = 40;
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler, o => o.ReceiveSockets = 2);
        var hello = DtlsServerTests.ClientHello("alpha.dtls.test");
        var sockets = new List<Socket>();
        try
        {
            for (var i = 0; i < ports; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                sockets.Add(socket);
                socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                socket.Connect(server.LocalEndPoint);
            }

            await Task.WhenAll(sockets.Select(socket => Task.Run(async () =>
            {
                var buffer = new byte[2048];
                // A lost datagram on a loaded machine is retried, as a client would.
                for (var attempt = 0; ; attempt++)
                {
                    socket.Send(hello);
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
                    try
                    {
                        var length = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                        // A handshake record (22) holding a HelloVerifyRequest (3), from the listener's address and port.
                        Assert.True(length > 13 + 12, "short answer");
                        Assert.Equal(22, buffer[0]);
                        Assert.Equal(3, buffer[13]);
                        return;
                    }
                    catch (OperationCanceledException) when (attempt < 10)
                    {
                        // Try again.
                    }
                }
            })));

            Assert.Equal(0, server.SessionCount);
            Assert.Equal(0, server.UnassignedHandshakes);
            Assert.Equal(0, server.Counters.HandshakesStarted);
            Assert.True(server.Counters.HelloVerifyRequestsSent >= ports);
            Assert.True(server.DatagramsPerSocket.All(n => n > 0), "datagrams per socket: " + string.Join(", ", server.DatagramsPerSocket));
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task ReceiveSockets_CookieMadeOnOneSocket_VerifiesOnAnotherAndStartsTheHandshake()
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler, o => o.ReceiveSockets = 2);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.Connect(server.LocalEndPoint);
        var hello = DtlsServerTests.ClientHello("alpha.dtls.test");
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(Wait);
        socket.Send(hello);
        var length = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        Assert.Equal(3, buffer[13]);
        var cookieLength = buffer[13 + 12 + 2];
        Assert.True(length >= 13 + 12 + 3 + cookieLength);
        var withCookie = StalledClient.WithCookie(hello, buffer.AsSpan(13 + 12 + 3, cookieLength).ToArray());

        // The kernel gave this client's 4-tuple to one socket; the ClientHello with the cookie goes to the other one, as
        // after a change of the socket group. That loop is idle (nothing else is sent), so the test may run its step.
        var counts = server.DatagramsPerSocket;
        var made = counts[0] > 0 ? 0 : 1;
        var other = server.ReceiveSocketList[1 - made];
        Assert.Equal(0, counts[1 - made]);
        server.ProcessDatagram(other, ((IPEndPoint)socket.LocalEndPoint!).Serialize(), withCookie, withCookie.Length);

        // The cookie verified there: a session exists and its ServerHello flight reaches the client, from the same port.
        Assert.Equal(1, server.Counters.HandshakesStarted);
        Assert.Equal(1, server.SessionCount);
        length = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        Assert.True(length > 13 + 12);
        Assert.Equal(22, buffer[0]);
        Assert.Equal(2, buffer[13]);
        Assert.Equal(0, server.Counters.CookieRejected);
    }

    [Fact]
    public async Task ReceiveSockets_PortHeldByAnotherListener_StartFailsInsteadOfSharingIt()
    {
        var handler = new TestHandler();
        await using var first = TestTenants.StartServer(Pki.Directory(), handler, o => o.ReceiveSockets = 2);
        await using var second = new DtlsServer(new DtlsServerOptions { LocalEndPoint = first.LocalEndPoint, ReceiveSockets = 2 }, Pki.Directory(), new TestHandler());

        var ex = Assert.Throws<SocketException>(second.Start);

        Assert.Equal(SocketError.AddressAlreadyInUse, ex.SocketErrorCode);
        using var client = await DtlsTestClient.ConnectAsync(first.LocalEndPoint, new DtlsClientOptions { ServerName = "alpha.dtls.test", Timeout = Wait });
        client.Send([1, 2, 3]);
        Assert.Equal(new byte[] { 1, 2, 3 }, await client.ReceiveAsync(Wait));
    }

    [Fact]
    public async Task ReceiveThreads_Stop_EndsEveryReceiveThreadAndClosesItsSocket()
    {
        var handler = new TestHandler();
        var server = TestTenants.StartServer(Pki.Directory(), handler, o =>
        {
            o.ReceiveSockets = 2;
            o.ReceiveThreads = true;
        });
        try
        {
            using var client = await DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions { ServerName = "alpha.dtls.test", Timeout = Wait });
            client.Send([7, 8, 9]);
            Assert.Equal(new byte[] { 7, 8, 9 }, await client.ReceiveAsync(Wait));
            Assert.All(server.ReceiveSocketList, socket => Assert.False(socket.Loop.IsCompleted));

            // Stopping closes the sockets under the threads blocked in their receive calls: every loop ends cleanly.
            await server.StopAsync().WaitAsync(Wait);
            Assert.All(server.ReceiveSocketList, socket =>
            {
                Assert.True(socket.Loop.IsCompletedSuccessfully);
                Assert.True(socket.Socket.SafeHandle.IsClosed);
            });
            Assert.Null(await client.ReceiveAsync(Wait));
            Assert.True(client.PeerClosed);
            Assert.Equal(0, server.Counters.InternalErrors);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public void ReceiveSockets_OutOfRange_Refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new DtlsServer(new DtlsServerOptions { ReceiveSockets = 0 }, Pki.Directory(), new TestHandler()));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DtlsServer(new DtlsServerOptions { ReceiveSockets = 257 }, Pki.Directory(), new TestHandler()));
    }

    [Fact]
    public async Task IdleSession_ReleasesRecordBuffers_AndStillReadsWritesAndClosesCleanly()
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);
        using var client = await DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions { ServerName = "alpha.dtls.test", Timeout = Wait });
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);

        for (var k = 0; k < 5; k++)
        {
            client.Send([(byte)k, 0xAA]);
            Assert.Equal(new byte[] { (byte)k, 0xAA }, await client.ReceiveAsync(Wait));
            // The echo went out under the session's lock, which released the buffers before letting go of it.
            Assert.True(session.RecordBuffersReleased);
        }

        // A datagram the server sends on its own, with the buffers released since the last echo.
        Assert.Equal(DtlsSendResult.Sent, session.Send("from the server"u8));
        Assert.Equal("from the server"u8.ToArray(), await client.ReceiveAsync(Wait));
        Assert.True(session.RecordBuffersReleased);

        session.Close();
        Assert.Null(await client.ReceiveAsync(Wait));
        Assert.True(client.PeerClosed);
        var (closed, reason) = await handler.Closed.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Same(session, closed);
        Assert.Equal(DtlsCloseReason.LocalClose, reason);
        Assert.Equal(0, server.Counters.InternalErrors);
    }
}
