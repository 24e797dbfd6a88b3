using System.Security.Cryptography;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Modes;
using Org.BouncyCastle.Security;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;

namespace Platform.Gateway.Dtls.Bc;

/// <summary>
/// The listener's one BouncyCastle crypto, shared by all its sessions. BouncyCastle asks the crypto for a nonce generator
/// per connection (for the hello randoms and the explicit IVs of CBC records) and its default keeps a SHA-256 digest
/// random generator per connection for as long as the connection lives; here every connection gets the same generator,
/// which draws from the operating system's random source and keeps no state, so an idle session holds none. Each
/// session's record cipher is a <see cref="BcQuietCipher"/>, whose keyed state the session releases while quiet.
/// </summary>
internal sealed class BcSharedCrypto() : BcTlsCrypto(new SecureRandom())
{
    // BouncyCastle asks for a session's cipher on the thread that runs its handshake; the session takes it from here.
    [ThreadStatic]
    private static BcQuietCipher? t_made;

    /// <summary>
    /// The suites the listener offers get a <see cref="BcQuietCipher"/> (BouncyCastle's record logic over parts whose
    /// keyed state a quiet session releases); any other algorithm BouncyCastle's own cipher.
    /// </summary>
    public override TlsCipher CreateCipher(TlsCryptoParameters cryptoParams, int encryptionAlgorithm, int macAlgorithm)
    {
        BcQuietCipher cipher;
        switch (encryptionAlgorithm)
        {
            case EncryptionAlgorithm.AES_128_CBC or EncryptionAlgorithm.AES_256_CBC:
                {
                    var probe = CreateHmac(macAlgorithm);
                    BcQuietPart[] parts =
                    [
                        new BcQuietBlockCipher(this, encryptionAlgorithm, encrypting: true),
                    new BcQuietBlockCipher(this, encryptionAlgorithm, encrypting: false),
                    new BcQuietHmac(this, macAlgorithm, probe.MacLength, probe.InternalBlockSize),
                    new BcQuietHmac(this, macAlgorithm, probe.MacLength, probe.InternalBlockSize),
                ];
                    var keySize = encryptionAlgorithm == EncryptionAlgorithm.AES_128_CBC ? 16 : 32;
                    cipher = new BcQuietCipher(
                        new TlsBlockCipher(cryptoParams, (TlsBlockCipherImpl)parts[0], (TlsBlockCipherImpl)parts[1], (TlsHmac)parts[2], (TlsHmac)parts[3], keySize),
                        parts);
                    break;
                }

            case EncryptionAlgorithm.AES_128_GCM:
                cipher = Aead(cryptoParams, BcQuietAeadCipher.Mode.Gcm, 16, 16, TlsAeadCipher.AEAD_GCM);
                break;
            case EncryptionAlgorithm.AES_256_GCM:
                cipher = Aead(cryptoParams, BcQuietAeadCipher.Mode.Gcm, 32, 16, TlsAeadCipher.AEAD_GCM);
                break;
            case EncryptionAlgorithm.AES_128_CCM:
                cipher = Aead(cryptoParams, BcQuietAeadCipher.Mode.Ccm, 16, 16, TlsAeadCipher.AEAD_CCM);
                break;
            case EncryptionAlgorithm.AES_128_CCM_8:
                cipher = Aead(cryptoParams, BcQuietAeadCipher.Mode.Ccm, 16, 8, TlsAeadCipher.AEAD_CCM);
                break;
            case EncryptionAlgorithm.CHACHA20_POLY1305:
                cipher = Aead(cryptoParams, BcQuietAeadCipher.Mode.ChaCha20Poly1305, 32, 16, TlsAeadCipher.AEAD_CHACHA20_POLY1305);
                break;
            default:
                return base.CreateCipher(cryptoParams, encryptionAlgorithm, macAlgorithm);
        }

        t_made = cipher;
        return cipher;
    }

    private BcQuietCipher Aead(TlsCryptoParameters cryptoParams, BcQuietAeadCipher.Mode mode, int keySize, int macSize, int aeadType)
    {
        var encrypt = new BcQuietAeadCipher(this, mode, encrypting: true);
        var decrypt = new BcQuietAeadCipher(this, mode, encrypting: false);
        return new BcQuietCipher(new TlsAeadCipher(cryptoParams, encrypt, decrypt, keySize, macSize, aeadType), [encrypt, decrypt]);
    }

    /// <summary>A fresh CBC mode over the suite's block cipher, not yet keyed.</summary>
    internal IBlockCipher CreateCbc(int encryptionAlgorithm) => CreateCbcBlockCipher(encryptionAlgorithm);

    /// <summary>A fresh AEAD of <paramref name="mode"/>, not yet keyed.</summary>
    internal IAeadCipher CreateAead(BcQuietAeadCipher.Mode mode) => mode switch
    {
        BcQuietAeadCipher.Mode.Gcm => CreateAeadCipher_Aes_Gcm(),
        BcQuietAeadCipher.Mode.Ccm => CreateAeadCipher_Aes_Ccm(),
        _ => new Org.BouncyCastle.Crypto.Modes.ChaCha20Poly1305(),
    };

    /// <summary>The cipher made last on this thread (by the handshake that just ran on it), and forgets it.</summary>
    internal static BcQuietCipher? TakeMadeCipher()
    {
        var made = t_made;
        t_made = null;
        return made;
    }

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
