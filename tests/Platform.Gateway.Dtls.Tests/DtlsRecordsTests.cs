using System.Buffers.Binary;
using System.Text;

namespace Platform.Gateway.Dtls.Tests;

public sealed class DtlsRecordsTests
{
    /// <summary>One DTLS record of <paramref name="contentType"/> in <paramref name="epoch"/>.</summary>
    private static byte[] Record(byte contentType, ushort epoch, byte[] body)
    {
        var record = new byte[13 + body.Length];
        record[0] = contentType;
        record[1] = 0xFE;
        record[2] = 0xFD;
        BinaryPrimitives.WriteUInt16BigEndian(record.AsSpan(3), epoch);
        BinaryPrimitives.WriteUInt16BigEndian(record.AsSpan(11), (ushort)body.Length);
        body.CopyTo(record, 13);
        return record;
    }

    /// <summary>A handshake fragment: type, message length, sequence, offset and the fragment itself.</summary>
    private static byte[] Handshake(byte type, int messageLength, int offset, byte[] fragment)
    {
        var message = new byte[12 + fragment.Length];
        message[0] = type;
        WriteUInt24(message.AsSpan(1), messageLength);
        BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(4), 2);
        WriteUInt24(message.AsSpan(6), offset);
        WriteUInt24(message.AsSpan(9), fragment.Length);
        fragment.CopyTo(message, 12);
        return message;
    }

    private static byte[] PskKeyExchange(string identity, int trailing = 0) =>
        [.. new byte[] { (byte)(identity.Length >> 8), (byte)identity.Length }, .. Encoding.UTF8.GetBytes(identity), .. new byte[trailing]];

    private static void WriteUInt24(Span<byte> span, int value)
    {
        span[0] = (byte)(value >> 16);
        span[1] = (byte)(value >> 8);
        span[2] = (byte)value;
    }

    [Fact]
    public void ClientKeyExchange_AfterACertificateMessageAndBeforeCcsAndFinished_IdentityRead()
    {
        var cke = PskKeyExchange("acme/dev-7", trailing: 33); // ECDHE-PSK: the identity, then the client's public key
        var flight = Record(22, 0, [.. Handshake(11, 3, 0, [0, 0, 0]), .. Handshake(16, cke.Length, 0, cke)])
            .Concat(Record(20, 0, [1]))
            .Concat(Record(22, 1, new byte[40]))
            .ToArray();

        Assert.True(DtlsRecords.TryReadPskIdentity(flight, out var identity));
        Assert.Equal("acme/dev-7", identity);
    }

    [Fact]
    public void ClientKeyExchange_InTheSecondRecordOfTheDatagram_IdentityRead()
    {
        var cke = PskKeyExchange("acme/dev-8");
        var flight = Record(21, 0, [1, 0]).Concat(Record(22, 0, Handshake(16, cke.Length, 0, cke))).ToArray();

        Assert.True(DtlsRecords.TryReadPskIdentity(flight, out var identity));
        Assert.Equal("acme/dev-8", identity);
    }

    public static TheoryData<string, byte[]> NoIdentity() => new()
    {
        { "ClientHello", Record(22, 0, Handshake(1, 4, 0, [1, 2, 3, 4])) },
        { "encrypted epoch", Record(22, 1, Handshake(16, 6, 0, PskKeyExchange("acme"))) },
        { "later fragment", Record(22, 0, Handshake(16, 40, 6, PskKeyExchange("acme"))) },
        { "identity longer than the fragment", Record(22, 0, Handshake(16, 40, 0, [0, 30, (byte)'a', (byte)'b'])) },
        { "empty identity", Record(22, 0, Handshake(16, 2, 0, [0, 0])) },
        { "NUL in identity", Record(22, 0, Handshake(16, 5, 0, [0, 3, (byte)'a', 0, (byte)'b'])) },
        { "fragment longer than the record", Record(22, 0, Handshake(16, 12, 0, PskKeyExchange("acme/x"))[..14]) },
        { "record longer than the datagram", Record(22, 0, Handshake(16, 12, 0, PskKeyExchange("acme/x")))[..20] },
        { "application data", Record(23, 1, new byte[30]) },
        { "empty", [] },
    };

    [Theory]
    [MemberData(nameof(NoIdentity))]
    public void NoReadableIdentity_False(string name, byte[] datagram)
    {
        Assert.False(DtlsRecords.TryReadPskIdentity(datagram, out var identity), name);
        Assert.Equal("", identity);
    }

    [Fact]
    public void SeededMutationsOfAFlight_NeverThrow()
    {
        var cke = PskKeyExchange("acme/dev-9", trailing: 33);
        var flight = Record(22, 0, Handshake(16, cke.Length, 0, cke)).Concat(Record(20, 0, [1])).ToArray();
        var random = new Random(4279);
        for (var i = 0; i < 20_000; i++)
        {
            var mutated = (byte[])flight.Clone();
            for (var flips = random.Next(1, 5); flips > 0; flips--)
            {
                mutated[random.Next(mutated.Length)] = (byte)random.Next(256);
            }

            var found = DtlsRecords.TryReadPskIdentity(mutated.AsSpan(0, random.Next(mutated.Length + 1)), out var identity);

            Assert.Equal(found, identity.Length > 0);
        }
    }
}
