using System.Security.Cryptography;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace Platform.Gateway.Dtls.Bc;

/// <summary>
/// The listener's one BouncyCastle crypto, shared by all its sessions. BouncyCastle asks the crypto for a nonce generator
/// per connection (for the hello randoms and the explicit IVs of CBC records) and its default keeps a SHA-256 digest
/// random generator per connection for as long as the connection lives; here every connection gets the same generator,
/// which draws from the operating system's random source and keeps no state, so an idle session holds none.
/// </summary>
internal sealed class BcSharedCrypto() : BcTlsCrypto(new SecureRandom())
{
    public override TlsNonceGenerator CreateNonceGenerator(byte[] additionalSeedMaterial) => SystemNonces.Instance;

    // BouncyCastle's TLS context calls this overload on .NET.
    public override TlsNonceGenerator CreateNonceGenerator(ReadOnlySpan<byte> additionalSeedMaterial) => SystemNonces.Instance;

    /// <summary>Nonces from the system's cryptographic random source: thread-safe, stateless.</summary>
    private sealed class SystemNonces : TlsNonceGenerator
    {
        public static readonly SystemNonces Instance = new();

        public byte[] GenerateNonce(int size)
        {
            var nonce = new byte[size];
            RandomNumberGenerator.Fill(nonce);
            return nonce;
        }
    }
}
