using System.Net;
using System.Text;
using System.Threading.Channels;
using Org.BouncyCastle.Tls;
using Platform.Gateway.Dtls.Bc;
using Platform.Gateway.Dtls.Tests.Support;
using Platform.Testing;

namespace Platform.Gateway.Dtls.Tests.Bc;

/// <summary>
/// Data after, between and beside RFC 6520 heartbeats on the BouncyCastle engine: server-initiated and client-initiated
/// heartbeats, near-MTU records both ways while heartbeats run, several records in one datagram, the idle timeout, and
/// why gnutls-cli's <c>--heartbeat</c> mode cannot send a typed line once the gateway's heartbeats have begun.
/// </summary>
public sealed class BcHeartbeatTests : IDisposable
{
    private static readonly TestTenants Pki = new();
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly string _dir = Directory.CreateTempSubdirectory("dtls-bc-hb-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static DtlsServer Start(TestHandler handler, DtlsFeatureSettings features, TimeSpan idleTimeout = default) =>
        TestTenants.StartServer(Pki.Directory(BcInteropTests.WithFeatures(Pki.Alpha(s => s with { IdleTimeout = idleTimeout }), features), Pki.Beta()), handler);

    private static Task<BcTestClient> ConnectAsync(DtlsServer server, TlsHeartbeat? clientHeartbeat = null, bool connectionId = false) =>
        Task.Run(() => BcTestClient.Connect(new IPEndPoint(IPAddress.Loopback, server.LocalEndPoint.Port), "alpha.dtls.test", "alpha/dev1", TestTenants.AlphaKey, connectionId, heartbeat: true, clientHeartbeat: clientHeartbeat));

    /// <summary>Server heartbeats every second; a generous timeout, since a loaded machine can delay an answer.</summary>
    private static readonly DtlsFeatureSettings ServerBeats = new() { HeartbeatInterval = TimeSpan.FromSeconds(1), HeartbeatTimeout = TimeSpan.FromSeconds(20) };

    /// <summary>Heartbeats negotiated (so BouncyCastle serves the session) but no server request due within a test.</summary>
    private static readonly DtlsFeatureSettings QuietServer = new() { HeartbeatInterval = TimeSpan.FromMinutes(10), HeartbeatTimeout = TimeSpan.FromSeconds(30) };

    /// <summary>
    /// gnutls-cli 3.7.9 with <c>--heartbeat</c>: a line typed after the gateway's first heartbeat request does not leave
    /// gnutls-cli while heartbeats keep coming, and leaves as soon as the gateway sends it a record with data. The
    /// cause is gnutls-cli's own read loop (<c>socket_recv</c> in its <c>src/socket.c</c>): on
    /// <c>GNUTLS_E_HEARTBEAT_PING_RECEIVED</c> it answers and calls <c>gnutls_record_recv</c> again on its blocking
    /// socket, so it goes back to waiting for the next record instead of to its <c>select</c> on stdin; each heartbeat
    /// request repeats that. Seen on the wire (<c>tcpdump -i lo</c>): after the line is written only heartbeat
    /// records (content type 24) leave gnutls-cli, no application data (23); <c>gnutls-cli -d 9</c> logs
    /// "Expected Packet Application Data(23)" after each heartbeat it sends, and "Preparing Packet Application Data"
    /// for the line only after the gateway's record; gdb shows it blocked in <c>recv</c> under libgnutls. The gateway
    /// receives and echoes the line at once when it does come. Tests that need data after heartbeats use the
    /// BouncyCastle client below; this one keeps the gnutls-cli behaviour on record, so a gnutls-cli that changes it
    /// makes it fail.
    /// </summary>
    [Fact]
    public async Task GnuTlsHeartbeat_LineTypedAfterHeartbeats_LeavesGnuTlsOnlyWithTheGatewaysNextRecord()
    {
        var caFile = Path.Combine(_dir, "ca.pem");
        await File.WriteAllTextAsync(caFile, Pki.Ca.Certificate.ExportCertificatePem());
        var handler = new TestHandler();
        await using var server = Start(handler, ServerBeats);
        await using var peer = PeerProcess.Start(
            "gnutls-cli",
            $"--udp --port {server.LocalEndPoint.Port} --sni-hostname alpha.dtls.test --verify-hostname alpha.dtls.test --x509cafile {caFile} "
            + "--priority NORMAL:-VERS-ALL:+VERS-DTLS1.2 --heartbeat 127.0.0.1");
        await peer.WaitForTextAsync("Handshake was completed");
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(DtlsEngines.BouncyCastle, session.Engine);
        await Poll.UntilAsync(() => session.HeartbeatResponsesReceived >= 2, Wait, () => $"requests {session.HeartbeatRequestsSent}, answered {session.HeartbeatResponsesReceived}:\n{peer.Output}");

        var echoed = peer.WhenLine(l => l == "typed-after-heartbeats");
        await peer.WriteLineAsync("typed-after-heartbeats");

        // Three more heartbeat exchanges: gnutls-cli answers each one, and sends nothing else.
        var answered = session.HeartbeatResponsesReceived;
        await Poll.UntilAsync(() => session.HeartbeatResponsesReceived >= answered + 3, Wait, () => $"requests {session.HeartbeatRequestsSent}, answered {session.HeartbeatResponsesReceived}:\n{peer.Output}");
        Assert.Equal(0, session.DatagramsIn);
        Assert.Empty(handler.Received);
        Assert.False(echoed.IsCompleted);

        // A record with data from the gateway ends gnutls-cli's wait: it prints it, reads stdin and sends the line.
        var pushed = peer.WhenLine(l => l == "from-the-gateway");
        Assert.Equal(DtlsSendResult.Sent, session.Send("from-the-gateway\n"u8));
        await pushed.WaitAsync(Wait);
        await echoed.WaitAsync(Wait);
        Assert.Contains(handler.Received, r => Encoding.ASCII.GetString(r.Data) == "typed-after-heartbeats\n");
        Assert.False(session.IsClosed);
    }

    [Fact]
    public async Task BcClient_DataAfterServerHeartbeats_EchoedAfterEachExchange()
    {
        var handler = new TestHandler();
        await using var server = Start(handler, ServerBeats);
        using var client = await ConnectAsync(server);
        await using var reader = ClientReader.Start(client);
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.True(session.HeartbeatsEnabled);

        // Several of the gateway's requests answered before the client sends anything.
        await Poll.UntilAsync(() => session.HeartbeatResponsesReceived >= 3, Wait, () => Describe(session, reader));
        Assert.Equal(0, session.DatagramsIn);

        for (var i = 0; i < 4; i++)
        {
            var answered = session.HeartbeatResponsesReceived;
            client.Send($"after-server-heartbeats-{i}");
            Assert.Equal($"after-server-heartbeats-{i}", await reader.NextAsync(Wait));
            await Poll.UntilAsync(() => session.HeartbeatResponsesReceived > answered, Wait, () => Describe(session, reader));
        }

        Assert.Equal(4, handler.Received.Count);
        Assert.False(session.IsClosed);
        Assert.Equal(0, server.BcCounters.HeartbeatTimeouts);
    }

    [Fact]
    public async Task BcClient_DataAfterClientHeartbeats_EchoedAfterEachExchange()
    {
        var handler = new TestHandler();
        await using var server = Start(handler, QuietServer);
        var beats = new CountingHeartbeat(idleMillis: 300, timeoutMillis: 20_000);
        using var client = await ConnectAsync(server, beats);
        await using var reader = ClientReader.Start(client);
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);

        // The client's requests, answered by the gateway, before any data; the gateway sends none of its own.
        await Poll.UntilAsync(() => beats.Answered >= 3, Wait, () => $"client sent {beats.Sent}, answered {beats.Answered}; {Describe(session, reader)}");
        Assert.Equal(0, session.DatagramsIn);

        for (var i = 0; i < 4; i++)
        {
            var answered = beats.Answered;
            client.Send($"after-client-heartbeats-{i}");
            Assert.Equal($"after-client-heartbeats-{i}", await reader.NextAsync(Wait));
            await Poll.UntilAsync(() => beats.Answered > answered, Wait, () => $"client sent {beats.Sent}, answered {beats.Answered}; {Describe(session, reader)}");
        }

        Assert.Equal(4, handler.Received.Count);
        Assert.Equal(0, session.HeartbeatRequestsSent);
        Assert.False(session.IsClosed);
    }

    /// <summary>
    /// Records as large as both sides can send in one datagram, from the client (echoed) and from the gateway (pushed),
    /// while both sides' heartbeats run: every record arrives whole, every heartbeat is answered. BouncyCastle's
    /// heartbeat timer restarts only on an answer, not on data, so the requests go on during the traffic.
    /// </summary>
    [Fact]
    public async Task BcClient_NearMtuRecordsBothWays_InterleavedWithHeartbeatsBothWays()
    {
        var handler = new TestHandler();
        await using var server = Start(handler, ServerBeats);
        var beats = new CountingHeartbeat(idleMillis: 2500, timeoutMillis: 20_000);
        using var client = await ConnectAsync(server, beats);
        await using var reader = ClientReader.Start(client);
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        var size = Math.Min(client.SendLimit, session.MaxDatagramSize);
        Assert.True(size > 1000, $"record size {size}");

        var serverAnswered = session.HeartbeatResponsesReceived;
        var clientAnswered = beats.Answered;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        var rounds = 0;
        while (session.HeartbeatResponsesReceived < serverAnswered + 3 || beats.Answered < clientAnswered + 3 || rounds < 20)
        {
            Assert.True(DateTime.UtcNow < deadline, $"after {rounds} rounds: {Describe(session, reader)}; client sent {beats.Sent}, answered {beats.Answered}");
            var up = Payload('u', rounds, size);
            var down = Payload('d', rounds, size);
            client.Send(up);
            Assert.Equal(DtlsSendResult.Sent, session.Send(Encoding.ASCII.GetBytes(down)));

            // Both come back to the client, in either order.
            var got = new HashSet<string>(StringComparer.Ordinal) { await reader.NextAsync(Wait), await reader.NextAsync(Wait) };
            Assert.True(got.SetEquals([up, down]), $"round {rounds}: got {string.Join(", ", got.Select(g => g.Length + ":" + g[..Math.Min(12, g.Length)]))}");
            rounds++;
            await Task.Delay(50);
        }

        Assert.Equal(rounds, handler.Received.Count);
        Assert.All(handler.Received, r => Assert.Equal(size, r.Data.Length));
        Assert.False(session.IsClosed);
        Assert.Equal(0, server.BcCounters.HeartbeatTimeouts);
    }

    /// <summary>BouncyCastle restarts the gateway's interval on an answer, not on data: requests go on during steady traffic.</summary>
    [Fact]
    public async Task ServerHeartbeats_GoOnDuringSteadyData()
    {
        var handler = new TestHandler();
        await using var server = Start(handler, ServerBeats);
        using var client = await ConnectAsync(server);
        await using var reader = ClientReader.Start(client);
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);

        // A record every 100 ms, far more often than the 1 s interval, until three requests were answered.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        var sent = 0;
        while (session.HeartbeatResponsesReceived < 3)
        {
            Assert.True(DateTime.UtcNow < deadline, $"after {sent} records: {Describe(session, reader)}");
            client.Send($"steady-{sent}");
            Assert.Equal($"steady-{sent}", await reader.NextAsync(Wait));
            sent++;
            await Task.Delay(100);
        }

        Assert.Equal(sent, handler.Received.Count);
        Assert.False(session.IsClosed);
    }

    /// <summary>Many heartbeat sessions on one listener (one timer entry each): every request answered, then data from each.</summary>
    [Fact]
    public async Task ManySessions_HeartbeatsAnsweredThenDataFromEach()
    {
        const int Count = 12;
        var handler = new TestHandler();
        await using var server = Start(handler, ServerBeats);
        var clients = new List<BcTestClient>();
        var readers = new List<ClientReader>();
        try
        {
            // One at a time: the listener caps BouncyCastle handshakes per source address.
            for (var i = 0; i < Count; i++)
            {
                var client = await ConnectAsync(server);
                clients.Add(client);
                readers.Add(ClientReader.Start(client));
            }

            var sessions = new List<DtlsSession>();
            for (var i = 0; i < Count; i++)
            {
                sessions.Add(await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait));
            }

            await Poll.UntilAsync(() => sessions.All(s => s.HeartbeatResponsesReceived >= 3), TimeSpan.FromSeconds(90), () => string.Join("; ", sessions.Select(s => $"{s.HeartbeatRequestsSent}/{s.HeartbeatResponsesReceived} {s.FailureDetail}")));
            Assert.Equal(Count, server.Timers.Count);

            for (var i = 0; i < Count; i++)
            {
                clients[i].Send($"session-{i}");
            }

            for (var i = 0; i < Count; i++)
            {
                Assert.Equal($"session-{i}", await readers[i].NextAsync(Wait));
            }

            Assert.All(sessions, s => Assert.False(s.IsClosed));
            Assert.Equal(0, server.BcCounters.HeartbeatTimeouts);
        }
        finally
        {
            foreach (var reader in readers)
            {
                await reader.DisposeAsync();
            }

            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    /// <summary>
    /// Two application records in one datagram (RFC 6347 allows several records per datagram): BouncyCastle returns the
    /// first and keeps the rest in its own record queue, which the gateway cannot see; the session must read on until
    /// BouncyCastle has taken everything, or the second record waits for the next datagram or timer.
    /// </summary>
    /// <remarks>
    /// With a long second record the session's next read must be sized to what BouncyCastle holds, not to the (empty)
    /// queue: BouncyCastle fails the session with internal_error when a record's plaintext is longer than the read.
    /// </remarks>
    [Theory]
    [InlineData(false, 13)]
    [InlineData(true, 13)]
    [InlineData(false, 1000)]
    [InlineData(true, 1000)]
    public async Task BcClient_TwoRecordsInOneDatagram_BothDelivered(bool connectionId, int secondLength)
    {
        var handler = new TestHandler();
        await using var server = Start(handler, connectionId ? QuietServer with { ConnectionIdLength = 8 } : QuietServer);
        using var client = await ConnectAsync(server, connectionId: connectionId);
        await using var reader = ClientReader.Start(client);
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(connectionId, session.ConnectionId is not null);

        var second = "second-of-two" + new string('s', secondLength - "second-of-two".Length);
        client.SendInOneDatagram("first-of-two", second);

        var got = new HashSet<string>(StringComparer.Ordinal) { await reader.NextAsync(Wait), await reader.NextAsync(Wait) };
        Assert.True(got.SetEquals(["first-of-two", second]), string.Join(", ", got.Select(g => g.Length + ":" + g[..Math.Min(16, g.Length)])));
        Assert.Equal(2, session.DatagramsIn);

        // And the session goes on as before.
        client.Send("after-the-pair");
        Assert.Equal("after-the-pair", await reader.NextAsync(Wait));
        Assert.False(session.IsClosed, session.FailureDetail);
    }

    /// <summary>
    /// A record followed by bytes that are no whole record (shorter than a record header, or headers of records that
    /// fail authentication): the record is delivered, the session's reads end (the rest makes the datagram longer
    /// than its first record, so the session reads on until BouncyCastle asks for the next datagram) and later
    /// datagrams are read as before.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(12)]
    [InlineData(40)]
    public async Task BcClient_RecordWithAShortRestInItsDatagram_DeliveredAndTheSessionGoesOn(int rest)
    {
        var handler = new TestHandler();
        await using var server = Start(handler, QuietServer);
        using var client = await ConnectAsync(server);
        await using var reader = ClientReader.Start(client);
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);

        var junk = new byte[rest];
        junk[0] = 23;
        client.SendInOneDatagram(["before-the-rest"], junk);
        Assert.Equal("before-the-rest", await reader.NextAsync(Wait));

        client.Send("after-the-rest");
        Assert.Equal("after-the-rest", await reader.NextAsync(Wait));
        Assert.Equal(2, session.DatagramsIn);
        Assert.False(session.IsClosed);
    }

    /// <summary>Answered heartbeats are not application data: a session with nothing else is closed at the idle timeout.</summary>
    [Fact]
    public async Task HeartbeatsAnswered_DoNotKeepASilentSessionPastTheIdleTimeout()
    {
        var handler = new TestHandler();
        await using var server = Start(handler, ServerBeats, idleTimeout: TimeSpan.FromSeconds(6));
        using var client = await ConnectAsync(server);
        await using var reader = ClientReader.Start(client);
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);

        var (closed, reason) = await handler.Closed.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Same(session, closed);
        Assert.Equal(DtlsCloseReason.IdleTimeout, reason);
        Assert.True(session.HeartbeatResponsesReceived >= 1, Describe(session, reader));
        Assert.Equal(0, session.DatagramsIn);
    }

    private static string Payload(char direction, int round, int size)
    {
        var head = $"{direction}{round:D5}-";
        var body = new StringBuilder(head, size);
        for (var i = head.Length; i < size; i++)
        {
            body.Append((char)('a' + ((i + round) % 26)));
        }

        return body.ToString();
    }

    private static string Describe(DtlsSession session, ClientReader reader) =>
        $"gateway requests {session.HeartbeatRequestsSent}, answered {session.HeartbeatResponsesReceived}, datagrams in {session.DatagramsIn}, closed {session.IsClosed} ({session.FailureDetail}); client fault: {reader.Fault?.Message}";

    /// <summary>BouncyCastle's default heartbeat, counting requests sent and answers received (an answer restarts the idle period).</summary>
    private sealed class CountingHeartbeat(int idleMillis, int timeoutMillis) : TlsHeartbeat
    {
        private readonly DefaultTlsHeartbeat _inner = new(idleMillis, timeoutMillis);
        private int _inFlight;
        private long _sent;
        private long _answered;

        public long Sent => Interlocked.Read(ref _sent);

        public long Answered => Interlocked.Read(ref _answered);

        public int IdleMillis
        {
            get
            {
                if (Interlocked.Exchange(ref _inFlight, 0) == 1)
                {
                    Interlocked.Increment(ref _answered);
                }

                return _inner.IdleMillis;
            }
        }

        public int TimeoutMillis => _inner.TimeoutMillis;

        public byte[] GeneratePayload()
        {
            Interlocked.Exchange(ref _inFlight, 1);
            Interlocked.Increment(ref _sent);
            return _inner.GeneratePayload();
        }
    }

    /// <summary>
    /// Reads the client on a thread of its own for as long as the test runs, as a device's receive loop would:
    /// BouncyCastle answers the gateway's heartbeats and sends the client's own only inside a read. Sends happen on the
    /// test's thread meanwhile (BouncyCastle serialises record writes).
    /// </summary>
    private sealed class ClientReader : IAsyncDisposable
    {
        private readonly BcTestClient _client;
        private readonly Channel<string> _received = Channel.CreateUnbounded<string>();
        private volatile bool _stop;
        private Task _loop = Task.CompletedTask;

        private ClientReader(BcTestClient client)
        {
            _client = client;
        }

        /// <summary>What ended the client's reads early (a heartbeat timeout, a closed session), if anything.</summary>
        public Exception? Fault { get; private set; }

        public static ClientReader Start(BcTestClient client)
        {
            var reader = new ClientReader(client);
            reader._loop = Task.Factory.StartNew(reader.Run, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            return reader;
        }

        public async Task<string> NextAsync(TimeSpan limit)
        {
            using var cts = new CancellationTokenSource(limit);
            try
            {
                return await _received.Reader.ReadAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"The client received nothing in time; its fault: {Fault?.ToString() ?? "none"}");
                throw;
            }
            catch (ChannelClosedException)
            {
                Assert.Fail($"The client stopped reading: {Fault}");
                throw;
            }
        }

        private void Run()
        {
            try
            {
                while (!_stop)
                {
                    if (_client.Receive(TimeSpan.FromMilliseconds(200)) is { } text)
                    {
                        _received.Writer.TryWrite(text);
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or TlsException)
            {
                Fault = ex;
            }
            finally
            {
                _received.Writer.TryComplete();
            }
        }

        public async ValueTask DisposeAsync()
        {
            _stop = true;
            await _loop;
        }
    }
}
