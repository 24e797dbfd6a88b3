using System.Buffers.Binary;
using System.Text;
using Platform.Gateway.Dtls.Tests.Cookies;
using Platform.Gateway.Dtls.Tests.Support;
using Platform.Testing;

namespace Platform.Gateway.Dtls.Tests.Offload;

/// <summary>
/// Handed-over sessions seen through a recording UDP relay between s_client and the listener: the server's final
/// flight lost and sent again from the captured bytes, replayed, tampered and wrong-epoch records dropped, no
/// sequence number (so no nonce) ever used for two different records, and a client Finished that arrived ahead of its
/// ChangeCipherSpec keeping the session on OpenSSL.
/// </summary>
public sealed class HandoverRelayTests
{
    private static readonly TestTenants Pki = new();
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task FinalFlightLost_ClientRetransmits_CapturedFlightResent_DataFlows()
    {
        const string suite = "ECDHE-PSK-CHACHA20-POLY1305";
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);
        await using var relay = new RecordingUdpRelay(server.LocalEndPoint);
        var dropped = 0;
        // The first datagram carrying the server's ChangeCipherSpec is its final flight: it never reaches the client.
        relay.DropToClient = d => HasRecord(d, 20) && Interlocked.CompareExchange(ref dropped, 1, 0) == 0;
        await using var peer = PeerProcess.Start("openssl", PskArguments(relay.Port, suite));

        var session = await HandoverPeerTests.HandedOverAsync(server, handler, suite);
        await peer.WriteLineAsync("after-lost-flight");
        await HandoverPeerTests.LineAsync(peer, "after-lost-flight");

        Assert.Equal(1, dropped);
        Assert.True(server.Counters.FinalFlightsResent >= 1);
        var flights = relay.Log.Where(e => !e.ToGateway && HasRecord(e.Datagram, 20)).Select(e => e.Datagram).ToList();
        Assert.True(flights.Count >= 2, $"{flights.Count} final flights");
        Assert.All(flights, f => Assert.Equal(flights[0], f)); // the bytes OpenSSL wrote, sent again as they were
        Assert.Equal(0, server.Counters.OpenSslObjectsHeld);
        AssertNoSequenceReused(relay.Log);
        session.Close();
        await peer.WaitForExitAsync();
    }

    [Fact]
    public async Task ReplayedTamperedAndWrongEpochRecords_Dropped_SessionKeepsWorking()
    {
        const string suite = "PSK-AES128-GCM-SHA256";
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);
        await using var relay = new RecordingUdpRelay(server.LocalEndPoint);
        await using var peer = PeerProcess.Start("openssl", PskArguments(relay.Port, suite));
        var session = await HandoverPeerTests.HandedOverAsync(server, handler, suite);

        await peer.WriteLineAsync("first-line");
        await HandoverPeerTests.LineAsync(peer, "first-line");
        var original = relay.Log.Last(e => e.ToGateway && e.Datagram[0] == 23).Datagram;

        // Replayed: the same record again is not delivered a second time.
        relay.SendToGateway(original);
        await PollAsync(() => server.Counters.OffloadRecordsDropped >= 1);
        Assert.Single(handler.Received, r => Encoding.ASCII.GetString(r.Data) == "first-line\n");

        // The client's next record is held back; a copy with one bit flipped goes first.
        var heldCount = 0;
        relay.DropToGateway = d => d[0] == 23 && Interlocked.CompareExchange(ref heldCount, 1, 0) == 0;
        await peer.WriteLineAsync("held-line");
        await PollAsync(() => Volatile.Read(ref heldCount) == 1);
        var held = relay.Log.Last(e => e.ToGateway && e.Datagram[0] == 23).Datagram;
        Assert.NotEqual(original, held);
        var tampered = (byte[])held.Clone();
        tampered[DtlsRecords.RecordHeaderLength + 10] ^= 0x01; // one bit of the ciphertext
        relay.SendToGateway(tampered);
        await PollAsync(() => server.Counters.OffloadBadRecords == 1);

        // The same record as plaintext-epoch application data and in epoch 2: dropped unopened.
        var droppedBefore = server.Counters.OffloadRecordsDropped;
        var epoch0 = (byte[])held.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(epoch0.AsSpan(3), 0);
        relay.SendToGateway(epoch0);
        var epoch2 = (byte[])held.Clone();
        BinaryPrimitives.WriteUInt16BigEndian(epoch2.AsSpan(3), 2);
        relay.SendToGateway(epoch2);
        await PollAsync(() => server.Counters.OffloadRecordsDropped == droppedBefore + 2);
        Assert.DoesNotContain(handler.Received, r => Encoding.ASCII.GetString(r.Data).Contains("held-line", StringComparison.Ordinal));

        // The genuine record still opens: nothing above moved the replay window.
        relay.SendToGateway(held);
        await HandoverPeerTests.LineAsync(peer, "held-line");
        Assert.Single(handler.Received, r => Encoding.ASCII.GetString(r.Data) == "held-line\n");
        await peer.WriteLineAsync("still-working");
        await HandoverPeerTests.LineAsync(peer, "still-working");

        Assert.False(session.IsClosed);
        Assert.Equal(1, server.Counters.OffloadBadRecords);
        AssertNoSequenceReused(relay.Log);
        await HandoverPeerTests.ClientClosesAsync(peer, handler, session);
    }

    [Fact]
    public async Task ClientFinishedBeforeItsChangeCipherSpec_BufferedByOpenSsl_SessionStaysOnOpenSslCounted_DataFlows()
    {
        const string suite = "PSK-AES128-GCM-SHA256";
        var handler = new TestHandler();
        await using var server = TestTenants.StartServer(Pki.Directory(), handler);
        await using var relay = new RecordingUdpRelay(server.LocalEndPoint);

        // The client's second flight (ClientKeyExchange, ChangeCipherSpec, Finished) reaches the gateway reordered:
        // its epoch-0 records are held until the epoch-1 Finished has gone ahead alone, then follow in a datagram of
        // their own. OpenSSL keeps the early Finished in its buffer of next-epoch records and reads it after the
        // ChangeCipherSpec, so the datagram that completes the handshake carries no Finished to check the keys on.
        var held = new List<byte[]>();
        var reordered = 0;
        var otherRecords = 0;
        relay.DropToGateway = datagram =>
        {
            if (Volatile.Read(ref reordered) == 1)
            {
                return false;
            }

            var records = Records([(true, datagram)]);
            var secondFlight = records.Where(r => EpochOf(r) == 0 && (r[0] == 20 || (r[0] == 22 && r[13] == 16))).ToList();
            var finished = records.Where(r => EpochOf(r) == 1 && r[0] == 22).ToList();
            if (secondFlight.Count == 0 && (finished.Count == 0 || held.Count == 0))
            {
                return false;
            }

            held.AddRange(secondFlight);
            if (finished.Count == 0)
            {
                return true;
            }

            otherRecords += records.Count - secondFlight.Count - finished.Count;
            relay.SendToGateway([.. finished.SelectMany(r => r)]);
            relay.SendToGateway([.. held.SelectMany(r => r)]);
            Volatile.Write(ref reordered, 1);
            return true;
        };
        await using var peer = PeerProcess.Start("openssl", PskArguments(relay.Port, suite));

        var session = await handler.Opened.Reader.ReadAsync().AsTask().WaitAsync(Wait);
        var counters = server.Counters;
        // Every figure at once, so that whichever check fails shows how the handshake went.
        var state = $"reordered {Volatile.Read(ref reordered)}, held {held.Count} records, {otherRecords} other records, " +
            $"datagrams to the gateway {relay.Log.Count(e => e.ToGateway)}; handed over {session.RecordProtectionHandedOver}, " +
            $"holds OpenSSL {session.HoldsOpenSslObject}; counters: check failed {counters.HandoverCheckFailed}, " +
            $"handed over {counters.RecordProtectionHandedOver}, not covered {counters.HandoverNotCovered}, " +
            $"OpenSSL objects {counters.OpenSslObjectsHeld}, handshakes completed {counters.HandshakesCompleted}";
        Assert.True(Volatile.Read(ref reordered) == 1, state);
        // ClientKeyExchange and ChangeCipherSpec were held back, and sent once, after the Finished.
        Assert.True(held.Count == 2 && otherRecords == 0, state);
        Assert.Equal(suite, session.CipherSuite);
        Assert.True(!session.RecordProtectionHandedOver && session.HoldsOpenSslObject, state);
        Assert.True(counters.HandoverCheckFailed == 1 && counters.RecordProtectionHandedOver == 0 && counters.HandoverNotCovered == 0, state);
        Assert.True(counters.OpenSslObjectsHeld == 1, state);

        // OpenSSL protects the records both ways.
        await peer.WriteLineAsync("after-reordered-finished");
        await HandoverPeerTests.LineAsync(peer, "after-reordered-finished");
        Assert.Single(handler.Received, r => Encoding.ASCII.GetString(r.Data) == "after-reordered-finished\n");
        Assert.Equal(DtlsSendResult.Sent, session.Send("from-gateway-on-openssl\n"u8));
        await HandoverPeerTests.LineAsync(peer, "from-gateway-on-openssl");
        Assert.False(session.RecordProtectionHandedOver);
        Assert.Equal(0, server.Counters.OffloadBadRecords + server.Counters.OffloadRecordsDropped);

        await HandoverPeerTests.ClientClosesAsync(peer, handler, session);
        Assert.Equal(0, server.Counters.OpenSslObjectsHeld);
        Assert.Equal(1, server.Counters.HandoverCheckFailed);
    }

    [Theory]
    [InlineData("PSK-AES128-GCM-SHA256")]
    [InlineData("PSK-AES256-GCM-SHA384")]
    [InlineData("PSK-AES128-CCM")]
    [InlineData("PSK-AES128-CCM8")]
    [InlineData("ECDHE-PSK-CHACHA20-POLY1305")]
    public async Task KeysFromClientKeyLog_OpenCapturedRecordsBothWays(string suite)
    {
        var keyLog = Path.Combine(Path.GetTempPath(), $"dtls-keylog-{Guid.NewGuid():N}.txt");
        try
        {
            var handler = new TestHandler();
            await using var server = TestTenants.StartServer(Pki.Directory(), handler);
            await using var relay = new RecordingUdpRelay(server.LocalEndPoint);
            await using (var peer = PeerProcess.Start("openssl", PskArguments(relay.Port, suite) + $" -keylogfile {keyLog}"))
            {
                await HandoverPeerTests.HandedOverAsync(server, handler, suite);
                await peer.WriteLineAsync("logged-keys-line");
                await HandoverPeerTests.LineAsync(peer, "logged-keys-line");
            }

            // (A line starting with 'k' would be s_client's key update command.) The client's own record of the secrets: "CLIENT_RANDOM <client random> <master secret>" (NSS key log format).
            var fields = File.ReadAllLines(keyLog).Single(l => l.StartsWith("CLIENT_RANDOM ", StringComparison.Ordinal)).Split(' ');
            var clientRandom = Convert.FromHexString(fields[1]);
            var master = Convert.FromHexString(fields[2]);
            var serverRandom = ServerRandom(relay.Log);
            Assert.True(DtlsAeadSuite.TryFromOpenSslName(suite, out var aead));
            using var keys = DtlsKeyBlock.Derive(aead, master, clientRandom, serverRandom);

            var fromClient = Records(relay.Log.Where(e => e.ToGateway)).Single(r => r[0] == 23);
            var fromServer = Records(relay.Log.Where(e => !e.ToGateway)).Single(r => r[0] == 23);
            var plaintext = new byte[fromClient.Length];
            Assert.True(DtlsRecordProtection.TryOpen(aead, keys.ClientWriteKey, keys.ClientWriteIv, fromClient, plaintext, out var length));
            Assert.Equal("logged-keys-line\n", Encoding.ASCII.GetString(plaintext, 0, length));
            Assert.True(DtlsRecordProtection.TryOpen(aead, keys.ServerWriteKey, keys.ServerWriteIv, fromServer, plaintext, out length));
            Assert.Equal("logged-keys-line\n", Encoding.ASCII.GetString(plaintext, 0, length));
            // The client's record does not open under the server's keys.
            Assert.False(DtlsRecordProtection.TryOpen(aead, keys.ServerWriteKey, keys.ServerWriteIv, fromClient, plaintext, out _));
        }
        finally
        {
            File.Delete(keyLog);
        }
    }

    /// <summary>
    /// Every epoch-1 record the gateway sent: one sequence number is only ever carried by identical bytes (the final
    /// flight sent again), and the application records' sequence numbers are all distinct and above the Finished's.
    /// </summary>
    private static void AssertNoSequenceReused(IReadOnlyList<(bool ToGateway, byte[] Datagram)> log)
    {
        var bySequence = new Dictionary<ulong, byte[]>();
        ulong finished = 0;
        foreach (var record in Records(log.Where(e => !e.ToGateway)))
        {
            if (BinaryPrimitives.ReadUInt16BigEndian(record.AsSpan(3)) != 1)
            {
                continue;
            }

            var sequence = BinaryPrimitives.ReadUInt64BigEndian(record.AsSpan(3)) & 0xFFFF_FFFF_FFFF;
            if (bySequence.TryGetValue(sequence, out var earlier))
            {
                Assert.Equal(earlier, record);
            }

            bySequence[sequence] = record;
            if (record[0] == 22)
            {
                finished = Math.Max(finished, sequence);
            }
            else
            {
                Assert.True(sequence > finished);
            }
        }

        Assert.NotEmpty(bySequence);
    }

    private static byte[] ServerRandom(IReadOnlyList<(bool ToGateway, byte[] Datagram)> log)
    {
        // ServerHello (handshake type 2): after the 13-byte record header and the 12-byte handshake header, the
        // 2-byte version and the 32-byte random.
        var hello = Records(log.Where(e => !e.ToGateway)).First(r => r[0] == 22 && BinaryPrimitives.ReadUInt16BigEndian(r.AsSpan(3)) == 0 && r[13] == 2);
        return hello.AsSpan(13 + 12 + 2, 32).ToArray();
    }

    private static List<byte[]> Records(IEnumerable<(bool ToGateway, byte[] Datagram)> entries)
    {
        var records = new List<byte[]>();
        foreach (var (_, datagram) in entries)
        {
            var offset = 0;
            while (datagram.Length - offset >= 13)
            {
                var length = BinaryPrimitives.ReadUInt16BigEndian(datagram.AsSpan(offset + 11));
                if (offset + 13 + length > datagram.Length)
                {
                    break;
                }

                records.Add(datagram.AsSpan(offset, 13 + length).ToArray());
                offset += 13 + length;
            }
        }

        return records;
    }

    private static ushort EpochOf(byte[] record) => BinaryPrimitives.ReadUInt16BigEndian(record.AsSpan(3));

    private static bool HasRecord(byte[] datagram, byte contentType) =>
        Records([(false, datagram)]).Any(r => r[0] == contentType);

    private static async Task PollAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(20);
        }
    }

    private static string PskArguments(int port, string suite) =>
        $"s_client -dtls1_2 -connect 127.0.0.1:{port} -psk_identity alpha/dev1 -psk {Convert.ToHexString(TestTenants.AlphaKey)} -cipher {suite}";
}
