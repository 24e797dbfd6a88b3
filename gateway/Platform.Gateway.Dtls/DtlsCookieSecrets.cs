using System.Net;
using System.Security.Cryptography;

namespace Platform.Gateway.Dtls;

/// <summary>
/// HelloVerifyRequest cookies: HMAC-SHA256 over the client's address and port under a secret that rotates; a cookie
/// made under the previous secret still verifies, so a rotation never fails a handshake in flight.
/// </summary>
internal sealed class DtlsCookieSecrets(TimeProvider time, TimeSpan lifetime)
{
    public const int CookieLength = 32;

    private readonly Lock _lock = new();
    private byte[] _current = RandomNumberGenerator.GetBytes(32);
    private byte[]? _previous;
    private DateTimeOffset _rotatedAt = time.GetUtcNow();

    public int Generate(SocketAddress client, Span<byte> cookie)
    {
        var (current, _) = Secrets();
        return HMACSHA256.HashData(current, client.Buffer.Span[..client.Size], cookie);
    }

    public bool Verify(SocketAddress client, ReadOnlySpan<byte> cookie)
    {
        if (cookie.Length != CookieLength)
        {
            return false;
        }

        var (current, previous) = Secrets();
        Span<byte> expected = stackalloc byte[CookieLength];
        HMACSHA256.HashData(current, client.Buffer.Span[..client.Size], expected);
        if (CryptographicOperations.FixedTimeEquals(expected, cookie))
        {
            return true;
        }

        if (previous is null)
        {
            return false;
        }

        HMACSHA256.HashData(previous, client.Buffer.Span[..client.Size], expected);
        return CryptographicOperations.FixedTimeEquals(expected, cookie);
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
                _current = RandomNumberGenerator.GetBytes(32);
                _rotatedAt = now;
            }

            return (_current, _previous);
        }
    }
}
