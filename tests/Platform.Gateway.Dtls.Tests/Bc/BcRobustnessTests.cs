using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;
using Platform.Gateway.Dtls.Bc;
using Platform.Gateway.Dtls.Tests.Support;

namespace Platform.Gateway.Dtls.Tests.Bc;

/// <summary>Hostile input to the BouncyCastle engine and its dispatch: the listener drops it and goes on serving.</summary>
public sealed class BcRobustnessTests
{
    private static readonly TestTenants Pki = new();
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private static readonly DtlsFeatureSettings EveryFeature = new()
    {
        HeartbeatInterval = TimeSpan.FromMinutes(5),
        HeartbeatTimeout = TimeSpan.FromSeconds(30),
        ConnectionIdLength = 8,
    };

    private readonly TestLogger _log = new();

    private DtlsServer Start(TestHandler handler, Action<DtlsServerOptions>? configure = null) =>
        TestTenants.StartServer(Pki.Directory(BcInteropTests.WithFeatures(Pki.Alpha(), EveryFeature), Pki.Beta()), handler, configure, _log);

    private async Task AssertServesAsync(DtlsServer server)
    {
        using var client = await Task.Run(() => BcTestClient.Connect(new IPEndPoint(IPAddress.Loopback, server.LocalEndPoint.Port), "alpha.dtls.test", "alpha/dev1", TestTenants.AlphaKey, connectionId: true, heartbeat: false));
        // UDP: under load one datagram may be lost, so a few tries.
        string? echo = null;
        for (var attempt = 0; attempt < 3 && echo is null; attempt++)
        {
            client.Send("still-serving");
            echo = await Task.Run(() => client.Receive(TimeSpan.FromSeconds(10)));
        }

        Assert.True(echo == "still-serving", $"no echo; log:\n{_log}");
    }

    [Fact]
    public async Task HeartbeatRequestWithPayloadLengthBeyondTheRecord_DroppedWithoutAnswer()
    {
        var handler = new TestHandler();
        await using var server = Start(handler);
        var endPoint = new IPEndPoint(IPAddress.Loopback, server.LocalEndPoint.Port);

        // An honest client's requests (every 300 ms of silence) are answered: no timeout in 3 s.
        using (var honest = await Task.Run(() => BcTestClient.Connect(endPoint, "alpha.dtls.test", "alpha/dev1", TestTenants.AlphaKey, false, true, clientHeartbeat: new DefaultTlsHeartbeat(300, 1500))))
        {
            Assert.Null(await Task.Run(() => honest.Receive(TimeSpan.FromSeconds(3))));
        }

        // The same client whose requests claim a 16 KiB payload inside a record of a few bytes (RFC 6520's Heartbleed
        // case), authenticated like any record: the gateway must not answer, so the client's own heartbeat times out.
        using var bleeding = await Task.Run(() => BcTestClient.Connect(endPoint, "alpha.dtls.test", "alpha/dev1", TestTenants.AlphaKey, false, true, new HeartbleedCrypto(), new DefaultTlsHeartbeat(300, 1500)));
        await Assert.ThrowsAsync<TlsTimeoutException>(() => Task.Run(() => bleeding.Receive(TimeSpan.FromSeconds(10))));

        await AssertServesAsync(server);
    }

    [Fact]
    public async Task FragmentedClientHellos_OverlappingAndHugeRanges_DroppedAndTheListenerServes()
    {
        var handler = new TestHandler();
        await using var server = Start(handler, o => o.BcHandshakeTimeout = TimeSpan.FromSeconds(3));
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        socket.ReceiveTimeout = 5000;
        var target = new IPEndPoint(IPAddress.Loopback, server.LocalEndPoint.Port);
        var hello = ClientHelloBody("alpha.dtls.test", cookie: []);

        // First contact in fragments (the cookie exchange needs a whole hello): no state, no answer.
        socket.SendTo(HandshakeRecord(1, hello.Length, 0, hello.AsSpan(0, 40), sequence: 0), target);
        socket.SendTo(HandshakeRecord(1, 0xFFFFFF, 30, hello.AsSpan(30, 40), sequence: 1), target);
        socket.SendTo(HandshakeRecord(1, hello.Length, 20, hello.AsSpan(0, hello.Length - 20), sequence: 2), target);

        // A whole hello asking for a heartbeat: a HelloVerifyRequest, then the hello again with the cookie.
        socket.SendTo(HandshakeRecord(1, hello.Length, 0, hello, sequence: 3), target);
        var buffer = new byte[2048];
        var received = socket.Receive(buffer);
        Assert.Equal(22, buffer[0]);
        Assert.Equal(3, buffer[13]);
        Assert.Equal(0, server.SessionCount);
        var cookie = buffer.AsSpan(13 + 12 + 3, buffer[13 + 12 + 2]).ToArray();
        Assert.True(received > 28 + cookie.Length - 1);
        var withCookie = ClientHelloBody("alpha.dtls.test", cookie);
        socket.SendTo(HandshakeRecord(1, withCookie.Length, 0, withCookie, sequence: 4, messageSequence: 1), target);
        await Poll.UntilAsync(() => server.BcCounters.HandshakesStarted == 1, Wait, () => "no BouncyCastle handshake started");
        var session = server.Sessions.SingleOrDefault();
        Assert.True(session is not null, $"no session; log:\n{_log}");

        // Then the next flight as hostile fragments: a 16 MiB message, overlapping ranges, ranges past the message end,
        // and more fragments than any handshake needs.
        var junk = RandomNumberGenerator.GetBytes(1000);
        socket.SendTo(HandshakeRecord(16, 0xFFFFFF, 0, junk.AsSpan(0, 100), sequence: 5, messageSequence: 2), target);
        socket.SendTo(HandshakeRecord(16, 4000, 3900, junk.AsSpan(0, 500), sequence: 6, messageSequence: 2), target);
        for (var i = 0; i < 400; i++)
        {
            socket.SendTo(HandshakeRecord(16, 4000, (i * 37) % 3000, junk.AsSpan(0, 900), sequence: 7 + i, messageSequence: 2), target);
        }

        await Poll.UntilAsync(() => session.IsClosed, Wait, () => "session still open");
        Assert.Equal(DtlsEngines.BouncyCastle, session.Engine);
        Assert.Equal("handshake timed out", session.FailureDetail);
        Assert.True(server.BcCounters.HandshakeDatagramsRejected >= 2, server.BcCounters.HandshakeDatagramsRejected.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await Poll.UntilAsync(() => server.BcHandshakes == 0, Wait, () => "handshake place not given back");
        await AssertServesAsync(server);
    }

    [Fact]
    public async Task TenThousandRandomDatagrams_NoSessionAndTheListenerServes()
    {
        var handler = new TestHandler();
        await using var server = Start(handler);
        var target = new IPEndPoint(IPAddress.Loopback, server.LocalEndPoint.Port);
        var sockets = Enumerable.Range(0, 8).Select(_ => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp)).ToArray();
        try
        {
            var random = new Random(13);
            for (var i = 0; i < 10_000; i++)
            {
                var datagram = new byte[random.Next(1, 1400)];
                random.NextBytes(datagram);
                // Half look like DTLS records (handshake, CID, heartbeat) so they reach past the first checks.
                if (i % 2 == 0 && datagram.Length >= 13)
                {
                    datagram[0] = (byte)(i % 3 == 0 ? 22 : i % 3 == 1 ? 25 : 24);
                    datagram[1] = 0xFE;
                    datagram[2] = 0xFD;
                    BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(11), (ushort)(datagram.Length - 13));
                }

                sockets[i % sockets.Length].SendTo(datagram, target);
                if (i % 100 == 0)
                {
                    // Let the receive loop keep up, so the kernel's socket buffer does not drop most of them.
                    await Task.Delay(5);
                }
            }

            await Poll.UntilAsync(() => server.Counters.DatagramsIn >= 1_000, Wait, () => server.Counters.DatagramsIn.ToString(System.Globalization.CultureInfo.InvariantCulture));
            await AssertServesAsync(server);
            Assert.False(handler.Received.IsEmpty);
            Assert.Equal(0, server.BcHandshakes);
            Assert.Equal(1, server.BcCounters.HandshakesStarted);
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    /// <summary>A ClientHello body (DTLS 1.2) for a PSK suite, with SNI and the heartbeat extension.</summary>
    private static byte[] ClientHelloBody(string serverName, byte[] cookie)
    {
        var body = new List<byte> { 0xFE, 0xFD };
        body.AddRange(new byte[32]);
        body.Add(0);
        body.Add((byte)cookie.Length);
        body.AddRange(cookie);
        body.AddRange(new byte[] { 0, 4, 0x00, 0xA8, 0x00, 0xFF }); // TLS_PSK_WITH_AES_128_GCM_SHA256, renegotiation SCSV
        body.AddRange(new byte[] { 1, 0 });
        var name = Encoding.ASCII.GetBytes(serverName);
        var extensions = new List<byte>();
        extensions.AddRange(new byte[] { 0, 0, 0, (byte)(name.Length + 5), 0, (byte)(name.Length + 3), 0, 0, (byte)name.Length });
        extensions.AddRange(name);
        extensions.AddRange(new byte[] { 0, 15, 0, 1, 1 });
        extensions.AddRange(new byte[] { 0, 23, 0, 0 }); // extended_master_secret
        body.Add((byte)(extensions.Count >> 8));
        body.Add((byte)extensions.Count);
        body.AddRange(extensions);
        return [.. body];
    }

    private static byte[] HandshakeRecord(byte type, int messageLength, int fragmentOffset, ReadOnlySpan<byte> fragment, long sequence, int messageSequence = 0)
    {
        var record = new byte[13 + 12 + fragment.Length];
        record[0] = 22;
        record[1] = 0xFE;
        record[2] = 0xFF;
        for (var i = 0; i < 6; i++)
        {
            record[5 + i] = (byte)(sequence >> (8 * (5 - i)));
        }

        BinaryPrimitives.WriteUInt16BigEndian(record.AsSpan(11), (ushort)(12 + fragment.Length));
        record[13] = type;
        WriteUInt24(record.AsSpan(14), messageLength);
        BinaryPrimitives.WriteUInt16BigEndian(record.AsSpan(17), (ushort)messageSequence);
        WriteUInt24(record.AsSpan(19), fragmentOffset);
        WriteUInt24(record.AsSpan(22), fragment.Length);
        fragment.CopyTo(record.AsSpan(25));
        return record;
    }

    private static void WriteUInt24(Span<byte> span, int value)
    {
        span[0] = (byte)(value >> 16);
        span[1] = (byte)(value >> 8);
        span[2] = (byte)value;
    }

    /// <summary>Crypto whose record ciphers rewrite an outgoing heartbeat request's payload_length to 16384 before it is protected.</summary>
    private sealed class HeartbleedCrypto() : BcTlsCrypto(new SecureRandom())
    {
        public override TlsCipher CreateCipher(TlsCryptoParameters cryptoParams, int encryptionAlgorithm, int macAlgorithm) =>
            new Lying(base.CreateCipher(cryptoParams, encryptionAlgorithm, macAlgorithm));

        private sealed class Lying(TlsCipher inner) : TlsCipher
        {
            public bool UsesOpaqueRecordType => inner.UsesOpaqueRecordType;

            public int GetCiphertextDecodeLimit(int plaintextLimit) => inner.GetCiphertextDecodeLimit(plaintextLimit);

            public int GetCiphertextEncodeLimit(int plaintextLength, int plaintextLimit) => inner.GetCiphertextEncodeLimit(plaintextLength, plaintextLimit);

            public int GetPlaintextLimit(int ciphertextLimit) => inner.GetPlaintextLimit(ciphertextLimit);

            public TlsEncodeResult EncodePlaintext(long seqNo, short contentType, ProtocolVersion recordVersion, int headerAllocation, byte[] plaintext, int offset, int len) =>
                EncodePlaintext(seqNo, contentType, recordVersion, headerAllocation, plaintext.AsSpan(offset, len));

            public TlsEncodeResult EncodePlaintext(long seqNo, short contentType, ProtocolVersion recordVersion, int headerAllocation, ReadOnlySpan<byte> plaintext)
            {
                if (contentType == ContentType.heartbeat && plaintext.Length >= 3 && plaintext[0] == HeartbeatMessageType.heartbeat_request)
                {
                    var lie = plaintext.ToArray();
                    BinaryPrimitives.WriteUInt16BigEndian(lie.AsSpan(1), 16384);
                    return inner.EncodePlaintext(seqNo, contentType, recordVersion, headerAllocation, lie);
                }

                return inner.EncodePlaintext(seqNo, contentType, recordVersion, headerAllocation, plaintext);
            }

            public TlsDecodeResult DecodeCiphertext(long seqNo, short recordType, ProtocolVersion recordVersion, byte[] ciphertext, int offset, int len) =>
                inner.DecodeCiphertext(seqNo, recordType, recordVersion, ciphertext, offset, len);

            public void RekeyDecoder() => inner.RekeyDecoder();

            public void RekeyEncoder() => inner.RekeyEncoder();
        }
    }
}
