using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace Platform.Gateway.Dtls.Bc;

/// <summary>
/// Turns a ClientHello whose cookie the listener's cookie layer (<see cref="DtlsCookieSecrets"/>) has already verified
/// into the <see cref="DtlsRequest"/> BouncyCastle's <c>DtlsServerProtocol.Accept</c> continues from. BouncyCastle 2.7.0
/// makes a DtlsRequest only inside <see cref="DtlsVerifier.VerifyRequest"/> (its constructor is internal), and that
/// verifier compares the hello's cookie with an HMAC it computes under its own secret. Here the verifier's HMAC is one
/// that ignores its input and yields the cookie the listener verified for this very hello, so the comparison always
/// holds: BouncyCastle only parses the hello and never sends a HelloVerifyRequest of its own. The device sees one
/// cookie exchange, the listener's, whichever engine serves it.
/// </summary>
internal sealed class BcRequestReader
{
    private readonly Lock _lock = new();
    private readonly VerifiedCookieMac _mac = new();
    private readonly DtlsVerifier _verifier;

    public BcRequestReader() => _verifier = new DtlsVerifier(new VerifiedCookieCrypto(_mac));

    /// <summary>
    /// The request for <paramref name="datagram"/> (whose first record is a ClientHello carrying <paramref name="verifiedCookie"/>),
    /// or null when BouncyCastle cannot parse the hello. Nothing is ever sent.
    /// </summary>
    public DtlsRequest? Read(byte[] clientId, byte[] datagram, int length, ReadOnlySpan<byte> verifiedCookie)
    {
        lock (_lock)
        {
            _mac.Expected = verifiedCookie.ToArray();
            try
            {
                return _verifier.VerifyRequest(clientId, datagram, 0, length, NoSender.Instance);
            }
            finally
            {
                _mac.Expected = null;
            }
        }
    }

    /// <summary>Fails loudly: the verifier sends only when the cookie differs, which the expected cookie rules out.</summary>
    private sealed class NoSender : DatagramSender
    {
        public static readonly NoSender Instance = new();

        public int GetSendLimit() => 1200;

        public void Send(byte[] buf, int off, int len) => throw new InvalidOperationException("BouncyCastle tried to send a HelloVerifyRequest behind the listener's cookie layer.");

        public void Send(ReadOnlySpan<byte> buffer) => throw new InvalidOperationException("BouncyCastle tried to send a HelloVerifyRequest behind the listener's cookie layer.");
    }

    /// <summary>Hands the verifier the one verified-cookie HMAC whenever it asks for one (2.7.0 asks on every request).</summary>
    private sealed class VerifiedCookieCrypto(VerifiedCookieMac mac) : BcTlsCrypto(new SecureRandom())
    {
        public override TlsHmac CreateHmac(int macAlgorithm) => mac;

        public override TlsHmac CreateHmacForHash(int cryptoHashAlgorithm) => mac;
    }

    /// <summary>An "HMAC" whose result is the cookie already verified by the listener.</summary>
    private sealed class VerifiedCookieMac : TlsHmac
    {
        public byte[]? Expected { get; set; }

        public int InternalBlockSize => 64;

        public int MacLength => DtlsCookieSecrets.CookieLength;

        public void SetKey(byte[] key, int keyOff, int keyLen)
        {
        }

        public void SetKey(ReadOnlySpan<byte> key)
        {
        }

        public void Update(byte[] input, int inOff, int length)
        {
        }

        public void Update(ReadOnlySpan<byte> input)
        {
        }

        public byte[] CalculateMac() => (byte[])(Expected ?? throw new InvalidOperationException("No verified cookie is set.")).Clone();

        public void CalculateMac(byte[] output, int outOff) => CalculateMac().CopyTo(output, outOff);

        public void Reset()
        {
        }
    }
}
