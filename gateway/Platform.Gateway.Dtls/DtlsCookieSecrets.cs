using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;

namespace Platform.Gateway.Dtls;

/// <summary>
/// The listener's one stateless cookie layer, in front of both engines. A cookie is HMAC-SHA256, under a secret that
/// rotates every <see cref="DtlsServerOptions.CookieSecretLifetime"/>, over the client's address and port and the
/// ClientHello fields a client repeats unchanged in its second hello (RFC 6347 section 4.2.1): client_version, random,
/// session_id, cipher_suites, compression_methods and the extensions. A cookie made under the previous secret still
/// verifies, so a rotation never fails a handshake in flight; one replayed from another address, or pasted into another
/// hello, does not. Nothing is stored per client: a hello without a valid cookie is answered with a HelloVerifyRequest
/// built here (<see cref="WriteHelloVerifyRequest"/>) and forgotten.
/// </summary>
internal sealed class DtlsCookieSecrets(TimeProvider time, TimeSpan lifetime)
{
    public const int CookieLength = 32;

    /// <summary>Record header, handshake header, server_version, cookie length byte, cookie.</summary>
    public const int HelloVerifyRequestLength = DtlsRecords.RecordHeaderLength + DtlsRecords.HandshakeHeaderLength + 2 + 1 + CookieLength;

    private const int SecretLength = 32;

    private readonly Lock _lock = new();
    private byte[] _current = RandomNumberGenerator.GetBytes(SecretLength);
    private byte[]? _previous;
    private DateTimeOffset _rotatedAt = time.GetUtcNow();

    /// <summary>Writes the cookie for this client and hello under the current secret.</summary>
    public void Generate(SocketAddress client, ReadOnlySpan<byte> datagram, in DtlsClientHello hello, Span<byte> cookie)
    {
        var (current, _) = Secrets();
        Compute(current, client, datagram, hello, cookie);
    }

    /// <summary>Whether the hello carries the cookie this client and hello get under the current or the previous secret.</summary>
    public bool Verify(SocketAddress client, ReadOnlySpan<byte> datagram, in DtlsClientHello hello)
    {
        if (hello.CookieLength != CookieLength)
        {
            return false;
        }

        var cookie = hello.Cookie(datagram);
        var (current, previous) = Secrets();
        Span<byte> expected = stackalloc byte[CookieLength];
        Compute(current, client, datagram, hello, expected);
        if (CryptographicOperations.FixedTimeEquals(expected, cookie))
        {
            return true;
        }

        if (previous is null)
        {
            return false;
        }

        Compute(previous, client, datagram, hello, expected);
        return CryptographicOperations.FixedTimeEquals(expected, cookie);
    }

    /// <summary>
    /// Writes a HelloVerifyRequest carrying <paramref name="cookie"/> in answer to <paramref name="hello"/> and returns its
    /// length. As RFC 6347 section 4.2.1 and 4.2.2 ask: DTLS 1.0 in the record and in server_version (whatever version
    /// will be negotiated), the ClientHello's record sequence number copied, and message_seq 0 (the server's first
    /// message of the handshake).
    /// </summary>
    public static int WriteHelloVerifyRequest(in DtlsClientHello hello, ReadOnlySpan<byte> cookie, Span<byte> destination)
    {
        const int BodyLength = 2 + 1 + CookieLength;
        var record = destination[..HelloVerifyRequestLength];
        record.Clear();
        record[0] = 22;
        record[1] = 0xFE;
        record[2] = 0xFF;
        // Epoch 0 (bytes 3-4), then the 48-bit sequence number.
        BinaryPrimitives.WriteUInt16BigEndian(record[5..], (ushort)(hello.RecordSequence >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(record[7..], (uint)hello.RecordSequence);
        BinaryPrimitives.WriteUInt16BigEndian(record[11..], DtlsRecords.HandshakeHeaderLength + BodyLength);
        var message = record[DtlsRecords.RecordHeaderLength..];
        message[0] = 3;
        WriteUInt24(message[1..], BodyLength);
        // message_seq 0 (bytes 4-5), fragment_offset 0 (bytes 6-8), fragment_length = length.
        WriteUInt24(message[9..], BodyLength);
        var body = message[DtlsRecords.HandshakeHeaderLength..];
        body[0] = 0xFE;
        body[1] = 0xFF;
        body[2] = CookieLength;
        cookie[..CookieLength].CopyTo(body[3..]);
        return HelloVerifyRequestLength;
    }

    private static void Compute(byte[] secret, SocketAddress client, ReadOnlySpan<byte> datagram, in DtlsClientHello hello, Span<byte> cookie)
    {
        var address = client.Buffer.Span[..client.Size];
        var before = hello.BeforeCookie(datagram);
        var after = hello.AfterCookie(datagram);
        var length = address.Length + before.Length + after.Length;
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var input = rented.AsSpan(0, length);
            address.CopyTo(input);
            before.CopyTo(input[address.Length..]);
            after.CopyTo(input[(address.Length + before.Length)..]);
            HMACSHA256.HashData(secret, input, cookie);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static void WriteUInt24(Span<byte> span, int value)
    {
        span[0] = (byte)(value >> 16);
        span[1] = (byte)(value >> 8);
        span[2] = (byte)value;
    }

    private (byte[] Current, byte[]? Previous) Secrets()
    {
        lock (_lock)
        {
            var now = time.GetUtcNow();
            if (now - _rotatedAt >= lifetime)
            {
                // After two lifetimes without traffic the previous secret is too old to honour.
                _previous = now - _rotatedAt >= lifetime * 2 ? null : _current;
                _current = RandomNumberGenerator.GetBytes(SecretLength);
                _rotatedAt = now;
            }

            return (_current, _previous);
        }
    }
}
