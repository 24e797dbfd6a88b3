using System.Net;
using System.Net.Sockets;
using System.Text;
using Platform.Contracts.Config;
using Platform.Gateway.Dtls.Interop;
using Platform.Gateway.Dtls.Tests.Support;
using Platform.Testing;

namespace Platform.Gateway.Dtls.Tests;

public sealed class DtlsServerTests
{
    private static readonly TestTenants Pki = new();
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Handshake_SniForTenant_EchoesDatagramAndReportsSession()
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);
        using var client = await DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions { ServerName = "alpha.dtls.test" });

        client.Send("hello"u8.ToArray());
        var echoed = await client.ReceiveAsync();

        Assert.Equal("hello", Encoding.UTF8.GetString(echoed!));
        Assert.Equal("CN=alpha.dtls.test", client.ServerCertificateSubject);
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal("t-alpha", session.Tenant!.TenantId);
        Assert.Equal("alpha.dtls.test", session.ServerName);
        Assert.Equal("DTLSv1.2", session.ProtocolVersion);
        Assert.StartsWith("ECDHE-ECDSA", session.CipherSuite, StringComparison.Ordinal);
        Assert.Equal(5, session.BytesIn);
        Assert.Equal(5, session.BytesOut);
        Assert.Equal(1, session.DatagramsIn);
        Assert.Equal(1, server.Counters.HelloVerifyRequestsSent);
        Assert.Equal(1, server.Counters.HandshakesCompleted);
    }

    [Fact]
    public async Task Handshake_SniOfOtherTenantAndWildcard_PicksThatTenantsCertificate()
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);
        using var client = await DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions { ServerName = "device.beta.dtls.test" });

        Assert.Equal("CN=beta.dtls.test", client.ServerCertificateSubject);
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal("t-beta", session.Tenant!.TenantId);
    }

    [Fact]
    public async Task Handshake_UnknownSni_FailsWithUnrecognizedName()
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);

        var ex = await Assert.ThrowsAsync<DtlsClientException>(() => DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions { ServerName = "nobody.dtls.test" }));

        Assert.Contains("unrecognized name", ex.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, handler.AdmitCalls);
        await WaitUntil(() => server.SessionCount == 0);
    }

    [Fact]
    public async Task Handshake_PskIdentityOfTenant_SelectsTenantWithEcdhePsk()
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);
        using var client = await DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions
        {
            PskIdentity = "beta/dev1",
            PskKey = TestTenants.BetaKey,
            CipherList = "ECDHE-PSK-AES128-CBC-SHA256",
        });

        client.Send([1, 2, 3]);
        Assert.Equal([1, 2, 3], await client.ReceiveAsync());
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal("t-beta", session.Tenant!.TenantId);
        Assert.Equal("beta/dev1", session.PskIdentity);
        Assert.Equal("ECDHE-PSK-AES128-CBC-SHA256", session.CipherSuite);
    }

    [Fact]
    public async Task Handshake_TenantSuites_RestrictThatTenantOnlyWhileTheOtherKeepsTheDefaultList()
    {
        // Alpha allows one suite; beta configures none (the default list, which the listener's objects start with).
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(
            Pki.Directory(Pki.Alpha(s => s with { CipherSuites = ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"] }), Pki.Beta()), handler);

        // A suite of the default list that alpha does not allow: no shared suite, the handshake fails with an alert.
        await Assert.ThrowsAsync<DtlsClientException>(() => DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions
        {
            ServerName = "alpha.dtls.test",
            CipherList = "ECDHE-ECDSA-AES128-GCM-SHA256",
            Timeout = Wait,
        }));
        Assert.Equal(0, server.Counters.HandshakesCompleted);

        using var alpha = await DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions
        {
            ServerName = "alpha.dtls.test",
            CipherList = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384",
            Timeout = Wait,
        });
        Assert.Equal("ECDHE-ECDSA-AES256-GCM-SHA384", alpha.Cipher);

        // The restriction is alpha's alone: beta, on the same listener right after, serves that suite.
        using var beta = await DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions
        {
            ServerName = "beta.dtls.test",
            CipherList = "ECDHE-ECDSA-AES128-GCM-SHA256",
            Timeout = Wait,
        });
        Assert.Equal("ECDHE-ECDSA-AES128-GCM-SHA256", beta.Cipher);
        Assert.Equal(2, server.Counters.HandshakesCompleted);
    }

    [Fact]
    public async Task Handshake_PskKeyOfOtherTenant_NeverOpens()
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);

        // A wrong key makes the client's Finished undecryptable; DTLS drops such records, so the client gives up.
        await Assert.ThrowsAnyAsync<Exception>(() => DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions
        {
            PskIdentity = "alpha/dev1",
            PskKey = TestTenants.BetaKey,
            CipherList = "PSK-AES128-GCM-SHA256",
            Timeout = TimeSpan.FromSeconds(3),
        }));
        Assert.False(handler.Opened.Reader.TryRead(out _));
        Assert.Equal(0, server.Counters.HandshakesCompleted);
    }

    [Fact]
    public async Task Handshake_PskIdentityOfAnotherTenantThanSni_Refused()
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);

        await Assert.ThrowsAsync<DtlsClientException>(() => DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions
        {
            ServerName = "alpha.dtls.test",
            PskIdentity = "beta/dev1",
            PskKey = TestTenants.BetaKey,
            CipherList = "PSK-AES128-GCM-SHA256",
        }));
        Assert.Empty(handler.Opened.Reader.TryPeek(out var opened) ? [opened] : Array.Empty<DtlsSession>());
    }

    [Fact]
    public async Task Handshake_UnknownPskIdentity_FailsWithoutAdmission()
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);

        await Assert.ThrowsAsync<DtlsClientException>(() => DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions
        {
            PskIdentity = "gamma/dev1",
            PskKey = TestTenants.BetaKey,
            CipherList = "PSK-AES128-GCM-SHA256",
        }));
        Assert.Equal(0, handler.AdmitCalls);
        await WaitUntil(() => server.SessionCount == 0);
    }

    [Fact]
    public async Task Handshake_DedicatedListenerWithoutSni_ServesItsTenant()
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler, o => o.DedicatedTenantId = "t-beta");
        using var client = await DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions());

        Assert.Equal("CN=beta.dtls.test", client.ServerCertificateSubject);
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal("t-beta", session.Tenant!.TenantId);
    }

    [Fact]
    public async Task Handshake_DedicatedListenerPskOfOtherTenant_Refused()
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler, o => o.DedicatedTenantId = "t-beta");

        await Assert.ThrowsAsync<DtlsClientException>(() => DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions
        {
            PskIdentity = "alpha/dev1",
            PskKey = TestTenants.AlphaKey,
            CipherList = "PSK-AES128-GCM-SHA256",
        }));
    }

    [Fact]
    public async Task Handshake_SharedListenerNeitherSniNorPsk_Fails()
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);

        await Assert.ThrowsAsync<DtlsClientException>(() => DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions()));
        await WaitUntil(() => server.SessionCount == 0);
    }

    [Fact]
    public async Task Handshake_ClientCertificateRequiredAndSent_RecordsCertificate()
    {
        var handler = new TestHandler();
        var alpha = Pki.Alpha(s => s with { ClientCertificates = ClientCertificateModes.Required, ClientCaCertificatesPem = Pki.ClientCa.Certificate.ExportCertificatePem() });
        await using var server = TestTenants.StartServer(Pki.Directory(alpha), handler);
        using var client = await DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions
        {
            ServerName = "alpha.dtls.test",
            CertificatePem = Pki.Client.CertificatePem,
            KeyPem = Pki.Client.KeyPem,
        });

        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.NotNull(session.ClientCertificate);
        Assert.Equal("CN=device-7", session.ClientCertificate.Subject);
        Assert.Equal("CN=Test Client CA", session.ClientCertificate.Issuer);
        Assert.Equal(Pki.Client.Sha256, session.ClientCertificate.Sha256Fingerprint);
    }

    [Fact]
    public async Task Handshake_ClientCertificateRequiredButMissing_Fails()
    {
        var handler = new TestHandler();
        var alpha = Pki.Alpha(s => s with { ClientCertificates = ClientCertificateModes.Required, ClientCaCertificatesPem = Pki.ClientCa.Certificate.ExportCertificatePem() });
        await using var server = TestTenants.StartServer(Pki.Directory(alpha), handler);

        await Assert.ThrowsAsync<DtlsClientException>(() => DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions { ServerName = "alpha.dtls.test" }));
    }

    [Fact]
    public async Task Handshake_ClientCertificateFromUntrustedCa_Fails()
    {
        var handler = new TestHandler();
        var alpha = Pki.Alpha(s => s with { ClientCertificates = ClientCertificateModes.Optional, ClientCaCertificatesPem = Pki.ClientCa.Certificate.ExportCertificatePem() });
        await using var server = TestTenants.StartServer(Pki.Directory(alpha), handler);
        var stranger = TestPki.CreateClient(TestPki.CreateCa("Stranger CA"), "intruder");

        await Assert.ThrowsAsync<DtlsClientException>(() => DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions
        {
            ServerName = "alpha.dtls.test",
            CertificatePem = stranger.CertificatePem,
            KeyPem = stranger.KeyPem,
        }));
    }

    [Fact]
    public async Task ClientHelloWithoutCookie_GetsHelloVerifyRequestAndNoSession()
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Connect(server.LocalEndPoint);

        socket.Send(ClientHello("alpha.dtls.test"));
        var buffer = new byte[2048];
        using var cts = new CancellationTokenSource(Wait);
        var length = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);

        // Record: handshake (22); body: HelloVerifyRequest (3) with a 32-byte cookie.
        Assert.Equal(22, buffer[0]);
        Assert.Equal(3, buffer[13]);
        Assert.Equal(32, buffer[13 + 12 + 2]);
        Assert.True(length <= 1200);
        Assert.Equal(0, server.SessionCount);
        Assert.Equal(1, server.Counters.HelloVerifyRequestsSent);
        Assert.Equal(0, server.Counters.HandshakesStarted);
    }

    [Fact]
    public async Task ClientHelloFlood_FromManySources_CreatesNoSession()
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);
        var hello = ClientHello("alpha.dtls.test");
        var buffer = new byte[2048];
        for (var source = 0; source < 20; source++)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            socket.Connect(server.LocalEndPoint);
            for (var i = 0; i < 10; i++)
            {
                socket.Send(hello);
                using var cts = new CancellationTokenSource(Wait);
                await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                Assert.Equal(3, buffer[13]);
            }
        }

        Assert.Equal(0, server.SessionCount);
        Assert.Equal(0, server.Counters.HandshakesStarted);
        Assert.Equal(200, server.Counters.HelloVerifyRequestsSent);
    }

    [Fact]
    public async Task Admission_Refused_EndsHandshakeWithAccessDenied()
    {
        var handler = new TestHandler { Admission = _ => DtlsAdmission.Refuse };
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);

        var ex = await Assert.ThrowsAsync<DtlsClientException>(() => DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions { ServerName = "alpha.dtls.test" }));

        Assert.Contains("access denied", ex.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(1, handler.AdmitCalls);
        Assert.False(handler.Opened.Reader.TryRead(out _));
        await WaitUntil(() => server.SessionCount == 0);
    }

    [Fact]
    public async Task HalfOpenCapPerTenantSource_Reached_RefusesFurtherHandshakes()
    {
        var handler = new TestHandler();
        var alpha = Pki.Alpha(s => s with { MaxHalfOpenHandshakesPerClient = 1 });
        await using var server = TestTenants.StartServer(Pki.Directory(alpha), handler);
        // A client that stops after the server's first flight holds one half-open slot.
        using var stalled = new StalledClient(server.LocalEndPoint, "alpha.dtls.test");
        await stalled.ReachServerHelloAsync();
        await WaitUntil(() => server.HalfOpenHandshakes("t-alpha") == 1);

        var ex = await Assert.ThrowsAsync<DtlsClientException>(() => DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions { ServerName = "alpha.dtls.test" }));

        Assert.Contains("access denied", ex.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(1, handler.AdmitCalls);
        Assert.Equal(1, handler.HalfOpenLimited.GetValueOrDefault("t-alpha"));
    }

    [Fact]
    public async Task HandshakeTimeout_StalledClient_SessionRemovedAndSlotReleased()
    {
        var time = new ManualTimeProvider(DateTimeOffset.UtcNow);
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler, o => o.TimeProvider = time);
        using var stalled = new StalledClient(server.LocalEndPoint, "alpha.dtls.test");
        await stalled.ReachServerHelloAsync();
        await WaitUntil(() => server.HalfOpenHandshakes("t-alpha") == 1);

        time.Advance(TimeSpan.FromSeconds(21));

        var (session, reason) = await handler.Closed.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(DtlsCloseReason.HandshakeTimeout, reason);
        Assert.False(session.IsEstablished);
        Assert.Equal(0, server.SessionCount);
        Assert.Equal(0, server.HalfOpenHandshakes("t-alpha"));
        Assert.Equal(1, server.Counters.HandshakesTimedOut);
    }

    [Fact]
    public async Task Timers_SessionsThatEnded_LeaveNoEntryAndNeverWakeTheTimer()
    {
        const int sessions = 4;
        var time = new ManualTimeProvider(DateTimeOffset.UtcNow);
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler, o => o.TimeProvider = time);

        // Each handshake schedules its session's retransmission entry (due about 1 s after its flight); ending the
        // session takes that entry out at once, so nothing is left in the queue to wake the timer for.
        for (var i = 0; i < sessions; i++)
        {
            using (var client = await DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions { ServerName = "alpha.dtls.test", Timeout = Wait }))
            {
                client.SendCloseNotify();
                await WaitUntil(() => server.SessionCount == 0);
            }

            time.Advance(TimeSpan.FromMilliseconds(200));
        }

        Assert.Equal(0, server.Timers.Count);

        // Well past every retransmission time the sessions had: the timer never fired for an ended session.
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(0, server.Timers.Firings);
        Assert.Equal(0, server.Timers.Count);
        Assert.Equal(sessions, server.Counters.HandshakesCompleted);
        Assert.Equal(0, server.Counters.HandshakesTimedOut);
    }

    [Fact]
    public async Task IdleTimeout_NoTraffic_SendsCloseNotify()
    {
        var time = new ManualTimeProvider(DateTimeOffset.UtcNow);
        var handler = new TestHandler();
        var alpha = Pki.Alpha(s => s with { IdleTimeout = TimeSpan.FromSeconds(30) });
        await using var server = TestTenants.StartServer(Pki.Directory(alpha), handler, o => o.TimeProvider = time);
        using var client = await DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions { ServerName = "alpha.dtls.test" });
        await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);

        time.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(1, server.SessionCount);
        time.Advance(TimeSpan.FromSeconds(2));

        var (_, reason) = await handler.Closed.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(DtlsCloseReason.IdleTimeout, reason);
        Assert.Null(await client.ReceiveAsync());
        Assert.True(client.PeerClosed);
    }

    [Fact]
    public async Task Close_EstablishedSession_ClientSeesCloseNotify()
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);
        using var client = await DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions { ServerName = "alpha.dtls.test" });
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);

        session.Close();

        Assert.Null(await client.ReceiveAsync());
        Assert.True(client.PeerClosed);
        var (_, reason) = await handler.Closed.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(DtlsCloseReason.LocalClose, reason);
        Assert.Equal(DtlsSendResult.Closed, session.Send([1]));
        Assert.False(server.TryGetSession(session.Id, out _));
    }

    [Fact]
    public async Task PeerCloseNotify_ClosesSession()
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);
        using var client = await DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions { ServerName = "alpha.dtls.test" });
        await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);

        client.SendCloseNotify();

        var (_, reason) = await handler.Closed.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(DtlsCloseReason.PeerClosed, reason);
        Assert.Equal(0, server.SessionCount);
    }

    [Fact]
    public async Task Send_LargerThanMtuAllows_RefusedAndCounted()
    {
        var handler = new TestHandler { Echo = false };
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);
        using var client = await DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions { ServerName = "alpha.dtls.test" });
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);

        Assert.InRange(session.MaxDatagramSize, 1100, 1200);
        Assert.Equal(DtlsSendResult.TooLarge, session.Send(new byte[session.MaxDatagramSize + 1]));
        Assert.Equal(DtlsSendResult.Sent, session.Send(new byte[session.MaxDatagramSize]));
        var received = await client.ReceiveAsync();
        Assert.Equal(session.MaxDatagramSize, received!.Length);
        Assert.Equal(1, server.Counters.OversizedSends);
        Assert.All(client.ReceivedRaw, d => Assert.True(d.Length <= 1200, $"datagram of {d.Length} bytes"));
    }

    [Fact]
    public async Task Mtu_LargeRsaChain_EveryServerDatagramFits()
    {
        var ca = TestPki.CreateCa("Big CA");
        var pem = TestPki.CreateServerPem(ca, "big.dtls.test", rsa: true, "big.dtls.test");
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(Pki.Alpha(s => s with { CertificatePems = [pem], HostNames = [] })), handler, o => o.Mtu = 600);
        using var client = await DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions { ServerName = "big.dtls.test" });

        Assert.Equal("CN=big.dtls.test", client.ServerCertificateSubject);
        Assert.True(client.ReceivedRaw.Count > 4);
        Assert.All(client.ReceivedRaw, d => Assert.True(d.Length <= 600, $"datagram of {d.Length} bytes"));
    }

    [Fact]
    public async Task UpdateTenants_NewCertificate_AppliesToNewHandshakesWhileOldSessionLives()
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);
        using var before = await DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions { ServerName = "alpha.dtls.test" });
        var rotatedPem = TestPki.CreateServerPem(Pki.Ca, "alpha-rotated", rsa: false, "alpha.dtls.test");

        var previous = server.UpdateTenants(Pki.Directory(Pki.Alpha(s => s with { CertificatePems = [rotatedPem] }), Pki.Beta()));
        previous.Dispose();
        using var after = await DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions { ServerName = "alpha.dtls.test" });

        Assert.Equal("CN=alpha.dtls.test", before.ServerCertificateSubject);
        Assert.Equal("CN=alpha-rotated", after.ServerCertificateSubject);
        before.Send([9]);
        Assert.Equal([9], await before.ReceiveAsync());
        after.Send([8]);
        Assert.Equal([8], await after.ReceiveAsync());
    }

    [Fact]
    public async Task UpdateTenants_PskRemoved_NewHandshakeRefused()
    {
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);
        var options = new DtlsClientOptions { PskIdentity = "alpha/dev1", PskKey = TestTenants.AlphaKey, CipherList = "PSK-AES128-GCM-SHA256" };
        using (await DtlsTestClient.ConnectAsync(server.LocalEndPoint, options))
        {
        }

        server.UpdateTenants(Pki.Directory(Pki.Alpha(s => s with { PreSharedKeys = new Dictionary<string, byte[]>() }), Pki.Beta())).Dispose();

        await Assert.ThrowsAsync<DtlsClientException>(() => DtlsTestClient.ConnectAsync(server.LocalEndPoint, options));
    }

    [Fact]
    public async Task StopAsync_LiveSessions_SendsCloseNotifyAndReportsClosed()
    {
        var handler = new TestHandler();
        var server = TestTenants.StartServer(Pki.Directory(), handler);
        using var client = await DtlsTestClient.ConnectAsync(server.LocalEndPoint, new DtlsClientOptions { ServerName = "alpha.dtls.test" });
        await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);

        await server.StopAsync();

        Assert.Null(await client.ReceiveAsync());
        Assert.True(client.PeerClosed);
        var (_, reason) = await handler.Closed.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(DtlsCloseReason.ServerStopping, reason);
    }

    /// <summary>A first ClientHello (no cookie); with <paramref name="offerPsk"/> it offers the PSK suites too.</summary>
    internal static unsafe byte[] ClientHello(string? serverName, bool offerPsk = false)
    {
        using var context = SslContextFactory.CreateClientContext("ALL");
        using var ssl = NativeMethods.SSL_new(context);
        using var channel = new DatagramChannel();
        channel.AttachTo(ssl);
        NativeMethods.SSL_set_connect_state(ssl);
        NativeMethods.SSL_ctrl(ssl, NativeMethods.SslCtrlSetMtu, 1200, nint.Zero);
        if (serverName is not null)
        {
            SetServerName(ssl, serverName);
        }

        if (offerPsk)
        {
            // OpenSSL offers PSK suites only with a client callback; this one is never reached.
            NativeMethods.SSL_set_psk_client_callback(ssl, &NoPsk);
        }

        NativeMethods.SSL_do_handshake(ssl);
        OpenSslError.Clear();
        var datagrams = new List<byte[]>();
        channel.TakeDatagrams(1200, datagrams);
        return Assert.Single(datagrams);
    }

    [System.Runtime.InteropServices.UnmanagedCallersOnly]
    private static unsafe uint NoPsk(nint ssl, byte* hint, byte* identity, uint maxIdentity, byte* psk, uint maxPsk) => 0;

    private static unsafe void SetServerName(SslHandle ssl, string name)
    {
        var bytes = Encoding.ASCII.GetBytes(name + "\0");
        fixed (byte* p = bytes)
        {
            NativeMethods.SSL_ctrl(ssl, NativeMethods.SslCtrlSetTlsextHostname, 0, (nint)p);
        }
    }

    internal static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached in time");
            await Task.Delay(10);
        }
    }
}
