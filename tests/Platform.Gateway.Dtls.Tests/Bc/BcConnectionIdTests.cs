using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Platform.Gateway.Dtls.Bc;
using Platform.Gateway.Dtls.Tests.Support;

namespace Platform.Gateway.Dtls.Tests.Bc;

/// <summary>RFC 9146 connection IDs on the BouncyCastle engine, with the BouncyCastle client (no other client here has them).</summary>
public sealed class BcConnectionIdTests
{
    private static readonly TestTenants Pki = new();
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private static DtlsServer Start(TestHandler handler, DtlsFeatureSettings features) =>
        TestTenants.StartServer(Pki.Directory(BcInteropTests.WithFeatures(Pki.Alpha(), features), Pki.Beta()), handler);

    private static Task<BcTestClient> ConnectAsync(DtlsServer server, bool connectionId, bool heartbeat = false) =>
        Task.Run(() => BcTestClient.Connect(new IPEndPoint(IPAddress.Loopback, server.LocalEndPoint.Port), "alpha.dtls.test", "alpha/dev1", TestTenants.AlphaKey, connectionId, heartbeat));

    [Fact]
    public async Task SessionSurvivesTwoSourcePortChanges_AndForgedOrReplayedRecordsFromAThirdAddressMoveNothing()
    {
        var handler = new TestHandler();
        await using var server = Start(handler, new DtlsFeatureSettings { ConnectionIdLength = 8 });
        using var client = await ConnectAsync(server, connectionId: true);
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(DtlsEngines.BouncyCastle, session.Engine);
        Assert.Equal("alpha/dev1", session.PskIdentity);
        Assert.NotNull(session.ConnectionId);
        Assert.Equal(16, session.ConnectionId!.Length);
        // The first nibble names the length (8 - 4).
        Assert.Equal('4', session.ConnectionId[0]);

        client.Send("one");
        Assert.Equal("one", await Task.Run(() => client.Receive(Wait)));

        for (var move = 1; move <= 2; move++)
        {
            client.Rebind();
            client.Send("after-move-" + move);
            Assert.Equal("after-move-" + move, await Task.Run(() => client.Receive(Wait)));
            Assert.Equal(client.LocalEndPoint.Port, session.RemoteEndPoint.Port);
            Assert.Equal(move, session.AddressChanges);
        }

        // A third address replays the client's last (valid, authenticated) record and forges one with the session's CID.
        using var third = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        third.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var target = new IPEndPoint(IPAddress.Loopback, server.LocalEndPoint.Port);
        third.SendTo(client.LastSent, target);
        third.SendTo(ForgedCidRecord(Convert.FromHexString(session.ConnectionId), sequence: 1_000_000), target);

        // The client's next record comes after both in the session's queue; its echo proves the session is still the client's.
        client.Send("still-here");
        Assert.Equal("still-here", await Task.Run(() => client.Receive(Wait)));
        Assert.Equal(client.LocalEndPoint.Port, session.RemoteEndPoint.Port);
        Assert.Equal(2, session.AddressChanges);
        Assert.Equal(2, server.BcCounters.AddressChanges);
        Assert.Equal(4, handler.Received.Count(r => r.SessionId == session.Id));
        Assert.False(session.IsClosed);
    }

    [Fact]
    public async Task WithoutConnectionId_RebindingLosesTheSession()
    {
        var handler = new TestHandler();
        await using var server = Start(handler, new DtlsFeatureSettings { ConnectionIdLength = 8, HeartbeatInterval = TimeSpan.FromMinutes(5) });
        using var client = await ConnectAsync(server, connectionId: false, heartbeat: true);
        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        Assert.Equal(DtlsEngines.BouncyCastle, session.Engine);
        Assert.Null(session.ConnectionId);
        client.Send("before");
        Assert.Equal("before", await Task.Run(() => client.Receive(Wait)));

        client.Rebind();
        client.Send("lost");

        // The record from the new port belongs to no session: dropped, never delivered.
        await Poll.UntilAsync(() => server.Counters.UnknownSessionDropped >= 1, Wait, () => "no drop counted");
        Assert.DoesNotContain(handler.Received, r => r.Data.AsSpan().SequenceEqual("lost"u8));
        Assert.NotEqual(client.LocalEndPoint.Port, session.RemoteEndPoint.Port);
    }

    [Fact]
    public async Task CidRecordsForUnknownConnectionIds_DroppedAndCounted()
    {
        var handler = new TestHandler();
        await using var server = Start(handler, new DtlsFeatureSettings { ConnectionIdLength = 8 });
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        var target = new IPEndPoint(IPAddress.Loopback, server.LocalEndPoint.Port);
        for (var i = 0; i < 100; i++)
        {
            var cid = RandomNumberGenerator.GetBytes(4 + (i % 13));
            cid[0] = (byte)(((cid.Length - 4) << 4) | (cid[0] & 0x0F));
            sender.SendTo(ForgedCidRecord(cid, sequence: i), target);
        }

        // Short ones too: a CID that claims more bytes than the datagram holds.
        sender.SendTo(new byte[] { 25, 0xFE, 0xFD, 0, 1, 0, 0, 0, 0, 0, 1, 0xC0, 1, 2 }, target);
        await Poll.UntilAsync(() => server.BcCounters.UnknownConnectionIdDropped >= 101, Wait, () => server.BcCounters.UnknownConnectionIdDropped.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(0, server.SessionCount);

        // And the listener still serves.
        using var client = await ConnectAsync(server, connectionId: true);
        client.Send("served");
        Assert.Equal("served", await Task.Run(() => client.Receive(Wait)));
    }

    /// <summary>A tls12_cid record (content type 25, epoch 1) with <paramref name="cid"/> and a random body no key authenticates.</summary>
    internal static byte[] ForgedCidRecord(byte[] cid, long sequence)
    {
        var body = RandomNumberGenerator.GetBytes(48);
        var record = new byte[11 + cid.Length + 2 + body.Length];
        record[0] = 25;
        record[1] = 0xFE;
        record[2] = 0xFD;
        record[4] = 1;
        for (var i = 0; i < 6; i++)
        {
            record[5 + i] = (byte)(sequence >> (8 * (5 - i)));
        }

        cid.CopyTo(record, 11);
        record[11 + cid.Length] = (byte)(body.Length >> 8);
        record[12 + cid.Length] = (byte)body.Length;
        body.CopyTo(record, 13 + cid.Length);
        return record;
    }
}
