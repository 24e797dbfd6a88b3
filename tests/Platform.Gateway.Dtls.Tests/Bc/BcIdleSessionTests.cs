using System.Net;
using System.Reflection;
using Org.BouncyCastle.Tls;
using Platform.Gateway.Dtls.Bc;
using Platform.Gateway.Dtls.Tests.Support;

namespace Platform.Gateway.Dtls.Tests.Bc;

/// <summary>
/// What an idle BouncyCastle session keeps: its finished handshake only until the read that lets BouncyCastle drop it
/// (driven by the listener's one timer queue), and no timer entry once nothing is due or the session has closed.
/// </summary>
public sealed class BcIdleSessionTests
{
    private static readonly TestTenants Pki = new();
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private static DtlsServer Start(TestHandler handler, DtlsFeatureSettings features) =>
        TestTenants.StartServer(Pki.Directory(BcInteropTests.WithFeatures(Pki.Alpha(), features), Pki.Beta()), handler);

    private static Task<BcTestClient> ConnectAsync(DtlsServer server) =>
        Task.Run(() => BcTestClient.Connect(new IPEndPoint(IPAddress.Loopback, server.LocalEndPoint.Port), "alpha.dtls.test", "alpha/dev1", TestTenants.AlphaKey, connectionId: true, heartbeat: false));

    /// <summary>
    /// Whether BouncyCastle's record layer still holds the finished handshake (its retransmit state). BouncyCastle offers
    /// no public view of it; the test reads its private field so that the release is checked where it happens.
    /// </summary>
    private static bool RecordLayerHoldsHandshake(DtlsSession session)
    {
        var transport = session.BcTransport ?? throw new InvalidOperationException("not an established BouncyCastle session");
        var recordLayer = typeof(DtlsTransport).GetField("m_recordLayer", BindingFlags.Instance | BindingFlags.NonPublic)?.GetValue(transport)
            ?? throw new InvalidOperationException("BouncyCastle's DtlsTransport has no m_recordLayer: the library changed, review the release read");
        var retransmit = recordLayer.GetType().GetField("m_retransmit", BindingFlags.Instance | BindingFlags.NonPublic)
            ?? throw new InvalidOperationException("BouncyCastle's DtlsRecordLayer has no m_retransmit: the library changed, review the release read");
        return retransmit.GetValue(recordLayer) is not null;
    }

    [Fact]
    public async Task IdleSession_ReadOnTheTimerQueueAfterBouncyCastlesRetention_FreesTheHandshake_AndTheSessionKeepsWorking()
    {
        // BouncyCastle's retention is its own constant on the wall clock (240 s), so this test waits for it for real.
        var handler = new TestHandler();
        await using var server = Start(handler, new DtlsFeatureSettings { ConnectionIdLength = 8 });
        using var client = await ConnectAsync(server);
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(DtlsEngines.BouncyCastle, session.Engine);

        // No data yet: BouncyCastle keeps the handshake, and the session's one timer entry is the read that will free it.
        await Poll.UntilAsync(() => server.Timers.Count == 1, Wait, () => $"{server.Timers.Count} timer entries");
        Assert.True(session.BcHandshakeHeld);
        Assert.True(RecordLayerHoldsHandshake(session));

        await Poll.UntilAsync(
            () => !session.BcHandshakeHeld,
            TimeSpan.FromMilliseconds(DtlsSession.BcHandshakeRetentionMillis) + TimeSpan.FromSeconds(90),
            () => "the release read did not run");
        Assert.False(RecordLayerHoldsHandshake(session));

        // Nothing else is due for this session (no idle timeout, no heartbeat): it holds no timer entry.
        await Poll.UntilAsync(() => server.Timers.Count == 0, Wait, () => $"{server.Timers.Count} timer entries");
        Assert.False(session.IsClosed);
        Assert.Empty(handler.Received);

        // The record cipher was released a second after the handshake, and the release read did not key it again.
        Assert.False(session.BcCipher!.Holds);
        Assert.Equal(0, session.BcCipher.Rebuilds);

        client.Send("after-release");
        Assert.Equal("after-release", await Task.Run(() => client.Receive(Wait)));
        client.Rebind();
        client.Send("moved");
        Assert.Equal("moved", await Task.Run(() => client.Receive(Wait)));
        Assert.Equal(client.LocalEndPoint.Port, session.RemoteEndPoint.Port);
        Assert.Equal(1, session.AddressChanges);

        // The records keyed the cipher: its release a quiet second later is the one entry, and then none is left.
        await Poll.UntilAsync(() => session.BcCipher is { Holds: false } && server.Timers.Count == 0, Wait, () => $"{server.Timers.Count} timer entries");
    }

    [Fact]
    public async Task ClientData_FreesTheHandshake_AndTheReleaseEntryGoes()
    {
        var handler = new TestHandler();
        await using var server = Start(handler, new DtlsFeatureSettings { ConnectionIdLength = 8 });
        using var client = await ConnectAsync(server);
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        await Poll.UntilAsync(() => server.Timers.Count == 1, Wait, () => $"{server.Timers.Count} timer entries");

        client.Send("one");
        Assert.Equal("one", await Task.Run(() => client.Receive(Wait)));

        // The client's first application record made BouncyCastle drop the handshake at once; no read is left to schedule.
        await Poll.UntilAsync(() => !session.BcHandshakeHeld && server.Timers.Count == 0, Wait, () => $"held {session.BcHandshakeHeld}, {server.Timers.Count} timer entries");
        Assert.False(RecordLayerHoldsHandshake(session));
    }

    [Fact]
    public async Task ClosedSessions_LeaveNoTimerEntries_WhicheverSideClosed()
    {
        var handler = new TestHandler();
        await using var server = Start(handler, new DtlsFeatureSettings { ConnectionIdLength = 8 });
        var clients = new List<BcTestClient>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                clients.Add(await ConnectAsync(server));
            }

            var sessions = new List<DtlsSession>();
            for (var i = 0; i < 3; i++)
            {
                sessions.Add(await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait));
            }

            // One entry per session (its release read), never more.
            await Poll.UntilAsync(() => server.Timers.Count == 3, Wait, () => $"{server.Timers.Count} timer entries");

            // The client closes (close_notify), the gateway closes, the client closes: each entry goes with its session.
            clients[0].Dispose();
            clients.RemoveAt(0);
            await Poll.UntilAsync(() => server.Timers.Count == 2, Wait, () => $"{server.Timers.Count} timer entries");
            var remaining = sessions.Where(s => !s.IsClosed).ToList();
            Assert.Equal(2, remaining.Count);
            remaining[0].Close();
            await Poll.UntilAsync(() => server.Timers.Count == 1, Wait, () => $"{server.Timers.Count} timer entries");
            remaining[1].Close();
            await Poll.UntilAsync(() => server.Timers.Count == 0 && server.SessionCount == 0, Wait, () => $"{server.Timers.Count} timer entries, {server.SessionCount} sessions");

            var reasons = new List<DtlsCloseReason>();
            for (var i = 0; i < 3; i++)
            {
                reasons.Add((await handler.Closed.Reader.ReadAsync().AsTask().WaitAsync(Wait)).Reason);
            }

            Assert.Equal(2, reasons.Count(r => r == DtlsCloseReason.LocalClose));
            Assert.Equal(1, reasons.Count(r => r == DtlsCloseReason.PeerClosed));
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }
}
