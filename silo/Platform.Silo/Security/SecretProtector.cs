using System.Security.Cryptography;
using System.Text;

namespace Platform.Silo.Security;

/// <summary>
/// AES-256-GCM encryption of secrets at rest (private keys, PSKs, webhook secrets) under the master
/// key from configuration. The associated data binds a ciphertext to its purpose and owner, so a
/// ciphertext copied to another row or tenant fails to decrypt.
/// Layout: version (1) | nonce (12) | tag (16) | ciphertext.
/// </summary>
internal sealed class SecretProtector
{
    private const byte Version = 1;
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private readonly byte[] _key;

    public SecretProtector(PlatformOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _key = DecodeMasterKey(options.MasterKey);
    }

    public static byte[] DecodeMasterKey(string? masterKey)
    {
        byte[] key;
        try
        {
            key = Convert.FromBase64String(masterKey ?? "");
        }
        catch (FormatException)
        {
            throw new InvalidOperationException("Platform:MasterKey must be 32 bytes encoded as base64.");
        }

        return key.Length == 32 ? key : throw new InvalidOperationException("Platform:MasterKey must be 32 bytes encoded as base64.");
    }

    public byte[] Protect(ReadOnlySpan<byte> plaintext, string purpose, Guid owner)
    {
        var output = new byte[1 + NonceSize + TagSize + plaintext.Length];
        output[0] = Version;
        var nonce = output.AsSpan(1, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key, TagSize);
        aes.Encrypt(nonce, plaintext, output.AsSpan(1 + NonceSize + TagSize), output.AsSpan(1 + NonceSize, TagSize), AssociatedData(purpose, owner));
        return output;
    }

    public byte[] Protect(string plaintext, string purpose, Guid owner) => Protect(Encoding.UTF8.GetBytes(plaintext), purpose, owner);

    public byte[] Unprotect(ReadOnlySpan<byte> protectedData, string purpose, Guid owner)
    {
        if (protectedData.Length < 1 + NonceSize + TagSize || protectedData[0] != Version)
        {
            throw new CryptographicException("Unknown protected data format.");
        }

        var plaintext = new byte[protectedData.Length - 1 - NonceSize - TagSize];
        using var aes = new AesGcm(_key, TagSize);
        aes.Decrypt(protectedData.Slice(1, NonceSize), protectedData[(1 + NonceSize + TagSize)..],
            protectedData.Slice(1 + NonceSize, TagSize), plaintext, AssociatedData(purpose, owner));
        return plaintext;
    }

    public string UnprotectString(ReadOnlySpan<byte> protectedData, string purpose, Guid owner) =>
        Encoding.UTF8.GetString(Unprotect(protectedData, purpose, owner));

    private static byte[] AssociatedData(string purpose, Guid owner) => Encoding.UTF8.GetBytes($"{purpose}:{owner:N}");
}

/// <summary>Purposes used as associated data with <see cref="SecretProtector"/>.</summary>
internal static class SecretPurposes
{
    public const string CertificateKey = "certificate-key";
    public const string PskKey = "psk-key";
    public const string WebhookSecret = "webhook-secret";
}
