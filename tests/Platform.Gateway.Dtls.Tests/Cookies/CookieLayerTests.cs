using System.Net.Sockets;
using System.Security.Cryptography;
using Platform.Gateway.Dtls.Bc;
using Platform.Gateway.Dtls.Tenants;
using Platform.Gateway.Dtls.Tests.Bc;
using Platform.Gateway.Dtls.Tests.Support;
using Platform.Testing;

namespace Platform.Gateway.Dtls.Tests.Cookies;

/// <summary>
/// The listener's one stateless cookie layer in front of both engines, seen on the wire: a real client through a
/// recording relay gets exactly one HelloVerifyRequest per handshake whichever engine serves it; cookies bind the
/// client's address and hello; rotation honours the previous secret only; floods and malformed hellos leave no state.
/// </summary>
public sealed class CookieLayerTests : IDisposable
{
    private const ushort HeartbeatExtension = 15;
    private static readonly TestTenants Pki = new();
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly string _dir = Directory.CreateTempSubdirectory("dtls-cookie-").FullName;
    private readonly string _caFile;

    public CookieLayerTests()
    {
        _caFile = Path.Combine(_dir, "ca.pem");
        File.WriteAllText(_caFile, Pki.Ca.Certificate.ExportCertificatePem());
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Alpha enables heartbeats, so a hello of its that offers one goes to BouncyCastle, any other to OpenSSL.</summary>
    private static DtlsTenantDirectory HeartbeatTenants() => Pki.Directory(
        BcInteropTests.WithFeatures(Pki.Alpha(), new DtlsFeatureSettings { HeartbeatInterval = TimeSpan.FromSeconds(30), HeartbeatTimeout = TimeSpan.FromSeconds(30) }),
        Pki.Beta());

    [Fact]
    public async Task OpenSslClient_ThroughRecordingRelay_OneHelloVerifyRequestThenOpenSslEngine()
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(HeartbeatTenants(), handler);
        await using var relay = new RecordingUdpRelay(server.LocalEndPoint);

        var output = await PeerProcess.ExchangeLineAsync("openssl", $"s_client -dtls1_2 -connect 127.0.0.1:{relay.Port} -servername alpha.dtls.test -CAfile {_caFile} -verify_return_error", "ping-cookie-openssl");

        Assert.Contains("\nping-cookie-openssl", output, StringComparison.Ordinal);
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(DtlsEngines.OpenSsl, session.Engine);
        AssertOneCookieExchange(relay.Log, server);
    }

    [Fact]
    public async Task GnuTlsHeartbeatClient_ThroughRecordingRelay_OneHelloVerifyRequestThenBouncyCastleEngine()
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(HeartbeatTenants(), handler);
        await using var relay = new RecordingUdpRelay(server.LocalEndPoint);

        var output = await PeerProcess.ExchangeLineAsync(
            "gnutls-cli",
            $"--udp --port {relay.Port} --sni-hostname alpha.dtls.test --verify-hostname alpha.dtls.test --x509cafile {_caFile} --priority NORMAL:-VERS-ALL:+VERS-DTLS1.2 --heartbeat 127.0.0.1",
            "ping-cookie-bc");

        Assert.Contains("ping-cookie-bc", output, StringComparison.Ordinal);
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(DtlsEngines.BouncyCastle, session.Engine);
        Assert.Equal(1, server.BcCounters.HandshakesStarted);
        AssertOneCookieExchange(relay.Log, server);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task CookieFromAddressA_SentFromAddressBOrInAnotherHello_GetsAnotherHelloVerifyRequest(bool bouncyCastleBound)
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(HeartbeatTenants(), handler);
        var first = FirstHello(bouncyCastleBound);
        using var a = Connected(server);
        using var b = Connected(server);

        a.Send(first.Build());
        var verify = await ReceiveAsync(a);
        Assert.Equal(HelloParts.HelloVerifyRequestType, HelloParts.MessageType(verify));
        // RFC 6347 4.2.1/4.2.2: DTLS 1.0 in record and body, the hello's record sequence number, message_seq 0.
        Assert.Equal([0xFE, 0xFF], verify[1..3]);
        Assert.Equal([0xFE, 0xFF], verify[25..27]);
        Assert.Equal(first.RecordSequence, HelloParts.RecordSequenceOf(verify));
        Assert.Equal(0, HelloParts.MessageSequenceOf(verify));
        var cookie = HelloParts.CookieOf(verify);
        Assert.Equal(32, cookie.Length);

        // A's cookie from B: a fresh HelloVerifyRequest (with B's own cookie), no ServerHello, no state.
        b.Send(first.Answer(cookie).Build());
        var fromB = await ReceiveAsync(b);
        Assert.Equal(HelloParts.HelloVerifyRequestType, HelloParts.MessageType(fromB));
        Assert.NotEqual(cookie, HelloParts.CookieOf(fromB));
        Assert.Equal(1, server.Counters.CookieRejected);

        // A's cookie from A, but in a hello with another random: the cookie covers the hello, so refused too.
        var random = (byte[])first.VersionAndRandom.Clone();
        random[10] ^= 0x55;
        a.Send((first with { VersionAndRandom = random }).Answer(cookie).Build());
        Assert.Equal(HelloParts.HelloVerifyRequestType, HelloParts.MessageType(await ReceiveAsync(a)));
        Assert.Equal(2, server.Counters.CookieRejected);
        Assert.Equal(0, server.Counters.HandshakesStarted);
        Assert.Equal(0, server.SessionCount);
        Assert.Equal(0, server.UnassignedHandshakes);

        // The genuine second hello from A starts the handshake on the chosen engine, with no further HelloVerifyRequest.
        a.Send(first.Answer(cookie).Build());
        await DtlsServerTests.WaitUntil(() => server.Counters.HandshakesStarted == 1);
        Assert.Equal(bouncyCastleBound ? 1 : 0, server.BcCounters.HandshakesStarted);
        Assert.Equal(3, server.Counters.HelloVerifyRequestsSent);
        Assert.Equal(0, server.Counters.HelloRejectedByEngine);
        Assert.Equal(0, server.Counters.InternalErrors);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task EstablishedSession_FreshHelloFromItsAddress_ReplacesItOnlyWithAValidCookie(bool bouncyCastleBound)
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(HeartbeatTenants(), handler);
        await using var relay = new RecordingUdpRelay(server.LocalEndPoint);
        await using var peer = PeerProcess.Start("openssl", $"s_client -dtls1_2 -connect 127.0.0.1:{relay.Port} -servername alpha.dtls.test -CAfile {_caFile} -verify_return_error");
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(DtlsEngines.OpenSsl, session.Engine);
        var verifyRequestsBefore = server.Counters.HelloVerifyRequestsSent;
        relay.ForwardToClient = false;

        // A client that lost its state (RFC 6347 4.2.8) sends a first hello from the established session's address.
        var hello = FirstHello(bouncyCastleBound);
        var mark = relay.Log.Count;
        relay.SendToGateway(hello.Build());
        await DtlsServerTests.WaitUntil(() => relay.Log.Skip(mark).Any(e => !e.ToGateway && HelloParts.MessageType(e.Datagram) == HelloParts.HelloVerifyRequestType));
        var cookie = HelloParts.CookieOf(relay.Log.Skip(mark).First(e => !e.ToGateway && HelloParts.MessageType(e.Datagram) == HelloParts.HelloVerifyRequestType).Datagram);
        Assert.False(session.IsClosed);

        // A forged cookie cannot end the session: it gets a HelloVerifyRequest and the session stays.
        relay.SendToGateway(hello.Answer(RandomNumberGenerator.GetBytes(32)).Build());
        await DtlsServerTests.WaitUntil(() => server.Counters.CookieRejected == 1);
        Assert.False(session.IsClosed);
        Assert.Equal(1, server.Counters.HandshakesStarted);

        // The address proven by a valid cookie: the old session ends as replaced and a new handshake starts on the hello's engine.
        relay.SendToGateway(hello.Answer(cookie).Build());
        var (closed, reason) = await handler.Closed.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Same(session, closed);
        Assert.Equal(DtlsCloseReason.Replaced, reason);
        await DtlsServerTests.WaitUntil(() => server.Counters.HandshakesStarted == 2);
        Assert.Equal(bouncyCastleBound ? 1 : 0, server.BcCounters.HandshakesStarted);
        Assert.Equal(verifyRequestsBefore + 2, server.Counters.HelloVerifyRequestsSent);
        Assert.Equal(0, server.Counters.InternalErrors);
    }

    [Fact]
    public async Task SecretRotation_PreviousSecretHonoured_CookieOlderThanTwoLifetimesRefused()
    {
        var time = new ManualTimeProvider(DateTimeOffset.UtcNow);
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(HeartbeatTenants(), handler, o =>
        {
            o.TimeProvider = time;
            o.CookieSecretLifetime = TimeSpan.FromMinutes(1);
        });
        var hello = FirstHello(bouncyCastleBound: false);
        using var a = Connected(server);
        using var b = Connected(server);

        a.Send(hello.Build());
        var cookieA = HelloParts.CookieOf(await ReceiveAsync(a));
        time.Advance(TimeSpan.FromSeconds(61));
        a.Send(hello.Answer(cookieA).Build());
        await DtlsServerTests.WaitUntil(() => server.Counters.HandshakesStarted == 1);
        Assert.Equal(0, server.Counters.CookieRejected);

        b.Send(hello.Build());
        var cookieB = HelloParts.CookieOf(await ReceiveAsync(b));
        Assert.NotEqual(cookieA, cookieB);
        time.Advance(TimeSpan.FromSeconds(121));
        b.Send(hello.Answer(cookieB).Build());
        Assert.Equal(HelloParts.HelloVerifyRequestType, HelloParts.MessageType(await ReceiveAsync(b)));
        Assert.Equal(1, server.Counters.CookieRejected);
        Assert.Equal(1, server.Counters.HandshakesStarted);
    }

    [Fact]
    public async Task HelloFlood_WithoutOrWithForgedCookies_BothEngines_AnsweredStatelessly()
    {
        const int Sources = 3;
        const int PerSource = 200;
        const int Batch = 50;
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(HeartbeatTenants(), handler);
        var plain = FirstHello(bouncyCastleBound: false);
        var heartbeat = FirstHello(bouncyCastleBound: true);
        var sockets = Enumerable.Range(0, Sources).Select(_ => Connected(server)).ToList();
        try
        {
            var sent = 0;
            var forged = 0;
            for (var i = 0; i < PerSource; i += Batch)
            {
                foreach (var socket in sockets)
                {
                    for (var j = i; j < i + Batch; j++)
                    {
                        var parts = (j % 2 == 0 ? plain : heartbeat) with { RecordSequence = (ulong)j };
                        if (j % 3 == 0)
                        {
                            parts = parts.Answer(RandomNumberGenerator.GetBytes(32));
                            forged++;
                        }

                        socket.Send(parts.Build());
                        sent++;
                    }
                }

                // Each batch answered before the next is sent, so the loopback socket buffer never overflows.
                var expected = sent;
                await DtlsServerTests.WaitUntil(() => server.Counters.HelloVerifyRequestsSent + server.Counters.HandshakesStarted + server.Counters.MalformedDropped >= expected);
            }

            Assert.Equal(sent, server.Counters.HelloVerifyRequestsSent);
            Assert.Equal(forged, server.Counters.CookieRejected);
            Assert.Equal(0, server.Counters.HandshakesStarted);
            Assert.Equal(0, server.BcCounters.HandshakesStarted);
            Assert.Equal(0, server.SessionCount);
            Assert.Equal(0, server.UnassignedHandshakes);
            Assert.Equal(0, server.BcHandshakes);
            Assert.Equal(0, server.HalfOpenHandshakes("t-alpha"));
            Assert.Equal(0, server.Counters.InternalErrors);
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
    }

    public static TheoryData<string> MalformedHellos() => [.. Malformations.Keys];

    private static readonly Dictionary<string, Func<HelloParts, byte[]>> Malformations = new()
    {
        ["session_id of 33 bytes"] = p => (p with { SessionId = new byte[33] }).Build(),
        ["cookie length past the body"] = p => p.Build(body =>
        {
            body[34 + 1 + p.SessionId.Length] = 250;
            return body;
        }),
        ["no cipher suite"] = p => (p with { CipherSuites = [] }).Build(),
        ["odd cipher_suites length"] = p => (p with { CipherSuites = [0x00, 0x2F, 0xC0] }).Build(),
        ["no compression method"] = p => (p with { Compression = [] }).Build(),
        ["extensions length past the body"] = p => p.Build(body =>
        {
            body[body.Length - p.Extensions.Length - 1]++;
            return body;
        }),
        ["extension entry overruns the list"] = p => (p with { Extensions = [.. p.Extensions, 0, 15, 0, 9, 1] }).Build(),
        ["trailing byte after the extensions"] = p => p.Build(body => [.. body, 0]),
        ["cut after the random"] = p => p.Build(body => body[..34]),
        ["cut inside the random"] = p => p.Build(body => body[..20]),
    };

    [Theory]
    [MemberData(nameof(MalformedHellos))]
    public async Task MalformedClientHello_DroppedCountedNoAnswerNoState(string malformation)
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(HeartbeatTenants(), handler);
        var hello = FirstHello(bouncyCastleBound: true);
        using var socket = Connected(server);

        socket.Send(Malformations[malformation](hello));
        // DatagramsIn counts on arrival; wait for the datagram's outcome, whichever it was.
        await DtlsServerTests.WaitUntil(() => server.Counters.MalformedDropped + server.Counters.HelloVerifyRequestsSent + server.Counters.HandshakesStarted >= 1);

        Assert.Equal(1, server.Counters.MalformedDropped);
        Assert.Equal(0, server.Counters.HelloVerifyRequestsSent);
        Assert.Equal(0, server.SessionCount);
        Assert.Equal(0, server.UnassignedHandshakes);

        // The same hello, well formed, is answered: the malformation alone made the difference.
        socket.Send(hello.Build());
        Assert.Equal(HelloParts.HelloVerifyRequestType, HelloParts.MessageType(await ReceiveAsync(socket)));
        Assert.Equal(1, server.Counters.MalformedDropped);
        Assert.Equal(0, server.Counters.InternalErrors);
    }

    /// <summary>
    /// One cookie exchange on the wire: every HelloVerifyRequest answers a cookie-less ClientHello (one each; more than
    /// one only when the client retransmitted its first hello), echoes its record sequence number with message_seq 0,
    /// and none follows the first ServerHello: the engine that served the handshake ran no exchange of its own.
    /// </summary>
    private static void AssertOneCookieExchange(IReadOnlyList<(bool ToGateway, byte[] Datagram)> log, DtlsServer server)
    {
        var hellos = log.Where(e => e.ToGateway && HelloParts.MessageType(e.Datagram) == HelloParts.ClientHelloType).Select(e => HelloParts.Parse(e.Datagram)).ToList();
        var withoutCookie = hellos.Where(h => h.Cookie.Length == 0).ToList();
        var withCookie = hellos.Where(h => h.Cookie.Length > 0).ToList();
        var verifyRequests = log.Where(e => !e.ToGateway && HelloParts.MessageType(e.Datagram) == HelloParts.HelloVerifyRequestType).Select(e => e.Datagram).ToList();
        var serverHello = log.ToList().FindIndex(e => !e.ToGateway && HelloParts.MessageType(e.Datagram) == HelloParts.ServerHelloType);
        var summary = $"hellos without cookie {withoutCookie.Count}, with cookie {withCookie.Count}, HelloVerifyRequests {verifyRequests.Count}, first ServerHello at {serverHello} of {log.Count}";

        Assert.True(serverHello >= 0, summary);
        Assert.NotEmpty(withCookie);
        Assert.Single(withoutCookie.Select(h => Convert.ToHexString(h.VersionAndRandom)).Distinct());
        Assert.Single(withCookie.Select(h => Convert.ToHexString(h.Cookie)).Distinct());
        Assert.True(verifyRequests.Count == withoutCookie.Count, summary);
        Assert.DoesNotContain(log.Skip(serverHello), e => !e.ToGateway && HelloParts.MessageType(e.Datagram) == HelloParts.HelloVerifyRequestType);
        Assert.All(verifyRequests, v => Assert.Equal(0, HelloParts.MessageSequenceOf(v)));
        Assert.All(verifyRequests, v => Assert.Contains(withoutCookie, h => h.RecordSequence == HelloParts.RecordSequenceOf(v)));
        Assert.Equal(verifyRequests.Count, server.Counters.HelloVerifyRequestsSent);
        Assert.Equal(0, server.Counters.CookieRejected);
        Assert.Equal(1, server.Counters.HandshakesStarted);
    }

    private static HelloParts FirstHello(bool bouncyCastleBound)
    {
        var hello = HelloParts.Parse(DtlsServerTests.ClientHello("alpha.dtls.test"));
        // heartbeat (RFC 6520): peer_allowed_to_send; alpha enables heartbeats, so such a hello is BouncyCastle's.
        return bouncyCastleBound ? hello.WithExtension(HeartbeatExtension, [1]) : hello;
    }

    private static Socket Connected(DtlsServer server)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Connect(server.LocalEndPoint);
        return socket;
    }

    private static async Task<byte[]> ReceiveAsync(Socket socket)
    {
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(Wait);
        var length = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
        return buffer[..length];
    }
}
