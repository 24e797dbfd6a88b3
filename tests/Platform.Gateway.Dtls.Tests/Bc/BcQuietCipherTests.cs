using System.Net;
using Org.BouncyCastle.Tls;
using Platform.Gateway.Dtls.Bc;
using Platform.Gateway.Dtls.Tests.Support;

namespace Platform.Gateway.Dtls.Tests.Bc;

/// <summary>
/// A BouncyCastle session's record cipher is released after a second without records and made again from the key
/// block by the next one: records in both directions, CID moves and both ways of closing still work after a release,
/// for the block suite and each AEAD family.
/// </summary>
public sealed class BcQuietCipherTests
{
    private static readonly TestTenants Pki = new();
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private static DtlsServer Start(TestHandler handler, string suite) =>
        TestTenants.StartServer(
            Pki.Directory(BcInteropTests.WithFeatures(Pki.Alpha(), new DtlsFeatureSettings { ConnectionIdLength = 8 }) with { CipherSuites = [suite] }, Pki.Beta()),
            handler);

    private static Task<BcTestClient> ConnectAsync(DtlsServer server, string suite)
    {
        var number = (int)typeof(CipherSuite).GetField(suite)!.GetValue(null)!;
        return Task.Run(() => BcTestClient.Connect(new IPEndPoint(IPAddress.Loopback, server.LocalEndPoint.Port), "alpha.dtls.test", "alpha/dev1", TestTenants.AlphaKey, connectionId: true, heartbeat: false, suites: [number]));
    }

    private static async Task<BcQuietCipher> ReleasedAsync(DtlsSession session)
    {
        var cipher = session.BcCipher ?? throw new InvalidOperationException("the session has no record cipher");
        await Poll.UntilAsync(() => !cipher.Holds, Wait, () => "the cipher was not released after a quiet second");
        return cipher;
    }

    [Theory]
    [InlineData("TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256")]
    [InlineData("TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256")]
    [InlineData("TLS_PSK_WITH_AES_128_GCM_SHA256")]
    [InlineData("TLS_PSK_WITH_AES_128_CCM_8")]
    public async Task QuietSession_ReleasesItsCipher_AndTheNextRecordsInBothDirectionsStillPass(string suite)
    {
        var handler = new TestHandler();
        await using var server = Start(handler, suite);
        using var client = await ConnectAsync(server, suite);
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(DtlsEngines.BouncyCastle, session.Engine);
        Assert.Equal(suite, session.CipherSuite);

        // Released after the handshake without a record, then the client's record makes it again (decrypt, then the echo's encrypt).
        var cipher = await ReleasedAsync(session);
        client.Send("after-quiet");
        var got = await Task.Run(() => client.Receive(Wait));
        Assert.True(got == "after-quiet", $"got {got}; closed {session.IsClosed} {session.FailureDetail}; errors {server.Counters.InternalErrors}");
        Assert.True(cipher.Rebuilds >= 1, $"{cipher.Rebuilds} rebuilds");
        Assert.Equal("after-quiet", System.Text.Encoding.UTF8.GetString(Assert.Single(handler.Received).Data));

        // Released again; this time the gateway's record comes first (encrypt on a rebuilt cipher).
        await ReleasedAsync(session);
        var rebuilds = cipher.Rebuilds;
        Assert.Equal(DtlsSendResult.Sent, session.Send("from-gateway"u8));
        Assert.Equal("from-gateway", await Task.Run(() => client.Receive(Wait)));
        Assert.True(cipher.Rebuilds > rebuilds);

        // A CID record from a new port after a release still moves the session (the record is authenticated by the rebuilt cipher).
        await ReleasedAsync(session);
        client.Rebind();
        client.Send("moved");
        Assert.Equal("moved", await Task.Run(() => client.Receive(Wait)));
        Assert.Equal(client.LocalEndPoint.Port, session.RemoteEndPoint.Port);
        Assert.Equal(1, session.AddressChanges);
        Assert.False(session.IsClosed);

        // Once released with nothing else due, the session holds no timer entry.
        await ReleasedAsync(session);
        await Poll.UntilAsync(() => server.Timers.Count == 0, Wait, () => $"{server.Timers.Count} timer entries");
    }

    [Fact]
    public async Task Datagrams_ShorterAndLongerThanTheIdleRead_AllPass_SentOneByOneAndInABurst()
    {
        const string suite = "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256";
        var handler = new TestHandler();
        await using var server = Start(handler, suite);
        using var client = await ConnectAsync(server, suite);
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);

        // Each read is sized to the datagram waiting (BcDatagramTransport.IdleReadLength when none): sizes around that
        // length and the record header, and up to the client's largest, one at a time and all queued at once.
        int[] sizes = [1, 12, 13, 50, 51, 63, 64, 65, 77, 78, 200, 1000, 1100];
        foreach (var size in sizes)
        {
            var text = new string('a', size);
            client.Send(text);
            Assert.Equal(text, await Task.Run(() => client.Receive(Wait)));
        }

        foreach (var size in sizes)
        {
            client.Send(new string('b', size));
        }

        var echoed = new List<int>();
        for (var i = 0; i < sizes.Length; i++)
        {
            var text = await Task.Run(() => client.Receive(Wait));
            Assert.NotNull(text);
            echoed.Add(text.Length);
        }

        Assert.Equal(sizes, echoed.Order());
        Assert.False(session.IsClosed);
    }

    [Fact]
    public async Task QuietSession_ClosedByTheClient_ReadsItsCloseNotifyOnARebuiltCipher()
    {
        var handler = new TestHandler();
        const string suite = "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256";
        await using var server = Start(handler, suite);
        var client = await ConnectAsync(server, suite);
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        var cipher = await ReleasedAsync(session);

        client.Dispose();
        var closed = await handler.Closed.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Same(session, closed.Session);
        Assert.Equal(DtlsCloseReason.PeerClosed, closed.Reason);
        Assert.True(cipher.Rebuilds >= 1, $"{cipher.Rebuilds} rebuilds");
        await Poll.UntilAsync(() => server.Timers.Count == 0 && server.SessionCount == 0, Wait, () => $"{server.Timers.Count} timer entries, {server.SessionCount} sessions");
    }

    [Fact]
    public async Task QuietSession_ClosedByTheGateway_SendsCloseNotifyOnARebuiltCipher()
    {
        var handler = new TestHandler();
        const string suite = "TLS_PSK_WITH_AES_128_GCM_SHA256";
        await using var server = Start(handler, suite);
        using var client = await ConnectAsync(server, suite);
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        var cipher = await ReleasedAsync(session);

        session.Close();
        var closed = await handler.Closed.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(DtlsCloseReason.LocalClose, closed.Reason);
        Assert.True(cipher.Rebuilds >= 1, $"{cipher.Rebuilds} rebuilds");

        // The client reads the gateway's close_notify (it decrypts): its transport reports the end.
        Assert.True(await Task.Run(() => client.ReceiveEnd(Wait)), "the client did not read a close_notify");
        await Poll.UntilAsync(() => server.Timers.Count == 0 && server.SessionCount == 0, Wait, () => $"{server.Timers.Count} timer entries, {server.SessionCount} sessions");
    }
}
