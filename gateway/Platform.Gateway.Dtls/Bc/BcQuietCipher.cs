using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Modes;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl;

namespace Platform.Gateway.Dtls.Bc;

/// <summary>
/// The record cipher of one BouncyCastle session, whose keyed state is released once the session is quiet and made
/// again by the next record. BouncyCastle's record logic (<see cref="TlsBlockCipher"/>, <see cref="TlsAeadCipher"/>:
/// nonces, padding, additional data, RFC 9146 inner plaintext) stays, built once during the handshake; only the parts
/// it keys are quiet ones (<see cref="BcQuietPart"/>): the AES engines with their key schedules and CBC, GCM or CCM
/// state, the ChaCha20-Poly1305 state, the HMACs with three SHA-256 states each. Those keep just their key bytes while
/// released. BouncyCastle derives the key block once, from a master secret it destroys at the handshake's end, so the
/// keys are kept as the parts received them. Every call comes under the session's lock (or, before the session is
/// established, from its handshake thread), and a release happens only between records.
/// </summary>
internal sealed class BcQuietCipher(TlsCipher cipher, BcQuietPart[] parts) : TlsCipher
{
    /// <summary>Whether any keyed state is held now.</summary>
    public bool Holds
    {
        get
        {
            foreach (var part in parts)
            {
                if (part.Holds)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Times a part's keyed state was made again after a release.</summary>
    public int Rebuilds
    {
        get
        {
            var rebuilds = 0;
            foreach (var part in parts)
            {
                rebuilds += part.Rebuilds;
            }

            return rebuilds;
        }
    }

    /// <summary><see cref="Environment.TickCount64"/> of the last record protected or checked.</summary>
    public long LastUsed { get; private set; } = Environment.TickCount64;

    /// <summary>Drops the keyed state of every part; the next record makes what it needs again.</summary>
    public void Release()
    {
        foreach (var part in parts)
        {
            part.Release();
        }
    }

    private TlsCipher Use()
    {
        LastUsed = Environment.TickCount64;
        return cipher;
    }

    public bool UsesOpaqueRecordType => cipher.UsesOpaqueRecordType;

    public int GetCiphertextDecodeLimit(int plaintextLimit) => cipher.GetCiphertextDecodeLimit(plaintextLimit);

    public int GetCiphertextEncodeLimit(int plaintextLength, int plaintextLimit) => cipher.GetCiphertextEncodeLimit(plaintextLength, plaintextLimit);

    public int GetPlaintextLimit(int ciphertextLimit) => cipher.GetPlaintextLimit(ciphertextLimit);

    public TlsEncodeResult EncodePlaintext(long seqNo, short contentType, ProtocolVersion recordVersion, int headerAllocation, byte[] plaintext, int offset, int len) =>
        Use().EncodePlaintext(seqNo, contentType, recordVersion, headerAllocation, plaintext, offset, len);

    public TlsEncodeResult EncodePlaintext(long seqNo, short contentType, ProtocolVersion recordVersion, int headerAllocation, ReadOnlySpan<byte> plaintext) =>
        Use().EncodePlaintext(seqNo, contentType, recordVersion, headerAllocation, plaintext);

    public TlsDecodeResult DecodeCiphertext(long seqNo, short recordType, ProtocolVersion recordVersion, byte[] ciphertext, int offset, int len) =>
        Use().DecodeCiphertext(seqNo, recordType, recordVersion, ciphertext, offset, len);

    // Only TLS 1.3 rekeys a cipher (a key update); sessions here are DTLS 1.2 only.
    public void RekeyDecoder() => throw new TlsFatalAlert(AlertDescription.internal_error, "no key update in DTLS 1.2");

    public void RekeyEncoder() => throw new TlsFatalAlert(AlertDescription.internal_error, "no key update in DTLS 1.2");
}

/// <summary>One keyed part of a <see cref="BcQuietCipher"/>: it keeps its key and makes its state when first needed.</summary>
internal abstract class BcQuietPart
{
    private byte[]? _key;
    private bool _made;

    public abstract bool Holds { get; }

    public int Rebuilds { get; private set; }

    public abstract void Release();

    protected byte[] Key => _key ?? throw new TlsFatalAlert(AlertDescription.internal_error, "record cipher used before it was keyed");

    protected void Keep(ReadOnlySpan<byte> key)
    {
        _key = key.ToArray();
        Release();
    }

    /// <summary>
    /// The keyed state held in <paramref name="field"/>, or, after a release (or before first use), the one
    /// <paramref name="make"/> builds and keys, counted as a rebuild when one was made before. <paramref name="make"/>
    /// gets this part, so a static lambda serves and no delegate is allocated per call.
    /// </summary>
    protected T Hold<TPart, T>(ref T? field, Func<TPart, T> make)
        where TPart : BcQuietPart
        where T : class
    {
        if (field is { } held)
        {
            return held;
        }

        if (_made)
        {
            Rebuilds++;
        }

        _made = true;
        return field = make((TPart)this);
    }
}

/// <summary>A CBC block cipher of a block suite, keyed from its kept key (and the last IV it was given).</summary>
internal sealed class BcQuietBlockCipher(BcSharedCrypto crypto, int encryptionAlgorithm, bool encrypting) : BcQuietPart, TlsBlockCipherImpl
{
    private IBlockCipher? _cipher;
    private byte[]? _iv;

    public override bool Holds => _cipher is not null;

    public override void Release() => _cipher = null;

    private IBlockCipher Cipher => Hold(ref _cipher, static (BcQuietBlockCipher part) => part.Make());

    private IBlockCipher Make()
    {
        var cipher = crypto.CreateCbc(encryptionAlgorithm);
        if (_iv is not null)
        {
            cipher.Init(encrypting, new ParametersWithIV(new KeyParameter(Key), _iv));
        }

        return cipher;
    }

    public void SetKey(byte[] key, int keyOff, int keyLen) => Keep(key.AsSpan(keyOff, keyLen));

    public void SetKey(ReadOnlySpan<byte> key) => Keep(key);

    public void Init(byte[] iv, int ivOff, int ivLen) => Init(iv.AsSpan(ivOff, ivLen));

    public void Init(ReadOnlySpan<byte> iv)
    {
        _iv = iv.ToArray();
        var cipher = _cipher;
        if (cipher is null)
        {
            // Made (and keyed with this IV) on first use.
            _ = Cipher;
        }
        else
        {
            cipher.Init(encrypting, new ParametersWithIV(new KeyParameter(Key), _iv));
        }
    }

    public int DoFinal(byte[] input, int inputOffset, int inputLength, byte[] output, int outputOffset)
    {
        var cipher = Cipher;
        var blockSize = cipher.GetBlockSize();
        if (inputLength % blockSize != 0)
        {
            throw new TlsFatalAlert(AlertDescription.internal_error, "CBC input is not a whole number of blocks");
        }

        for (var done = 0; done < inputLength; done += blockSize)
        {
            cipher.ProcessBlock(input, inputOffset + done, output, outputOffset + done);
        }

        return inputLength;
    }

    public int GetBlockSize() => Cipher.GetBlockSize();
}

/// <summary>An AEAD (GCM or CCM over AES, or ChaCha20-Poly1305) of an AEAD suite, keyed from its kept key at each record's init.</summary>
internal sealed class BcQuietAeadCipher(BcSharedCrypto crypto, BcQuietAeadCipher.Mode mode, bool encrypting) : BcQuietPart, TlsAeadCipherImpl
{
    public enum Mode
    {
        Gcm,
        Ccm,
        ChaCha20Poly1305,
    }

    private IAeadCipher? _cipher;

    public override bool Holds => _cipher is not null;

    public override void Release() => _cipher = null;

    private IAeadCipher Cipher => Hold(ref _cipher, static (BcQuietAeadCipher part) => part.Make());

    private IAeadCipher Make() => crypto.CreateAead(mode);

    public void SetKey(byte[] key, int keyOff, int keyLen) => Keep(key.AsSpan(keyOff, keyLen));

    public void SetKey(ReadOnlySpan<byte> key) => Keep(key);

    // BouncyCastle inits the AEAD before every record, with that record's nonce (and, for DTLS 1.2, no additional data here).
    public void Init(byte[] nonce, int macSize, byte[] additionalData) =>
        Cipher.Init(encrypting, new AeadParameters(new KeyParameter(Key), macSize * 8, nonce, additionalData));

    public int GetOutputSize(int inputLength) => Cipher.GetOutputSize(inputLength);

    public int DoFinal(byte[] input, int inputOffset, int inputLength, byte[] output, int outputOffset) =>
        DoFinal(null, input, inputOffset, inputLength, output, outputOffset);

    public int DoFinal(byte[]? additionalData, byte[] input, int inputOffset, int inputLength, byte[] output, int outputOffset)
    {
        var cipher = Cipher;
        if (additionalData is { Length: > 0 })
        {
            cipher.ProcessAadBytes(additionalData, 0, additionalData.Length);
        }

        var length = cipher.ProcessBytes(input, inputOffset, inputLength, output, outputOffset);
        try
        {
            return length + cipher.DoFinal(output, outputOffset + length);
        }
        catch (InvalidCipherTextException ex)
        {
            throw new TlsFatalAlert(AlertDescription.bad_record_mac, ex);
        }
    }

    public void Reset() => _cipher?.Reset();
}

/// <summary>An HMAC of a block suite, keyed from its kept key when first needed.</summary>
internal sealed class BcQuietHmac(BcSharedCrypto crypto, int macAlgorithm, int macLength, int internalBlockSize) : BcQuietPart, TlsHmac
{
    private TlsHmac? _hmac;

    public override bool Holds => _hmac is not null;

    public override void Release() => _hmac = null;

    private TlsHmac Hmac => Hold(ref _hmac, static (BcQuietHmac part) => part.Make());

    private TlsHmac Make()
    {
        var hmac = crypto.CreateHmac(macAlgorithm);
        hmac.SetKey(Key);
        return hmac;
    }

    public int InternalBlockSize => internalBlockSize;

    public int MacLength => macLength;

    public void SetKey(byte[] key, int keyOff, int keyLen) => Keep(key.AsSpan(keyOff, keyLen));

    public void SetKey(ReadOnlySpan<byte> key) => Keep(key);

    public void Update(byte[] input, int inOff, int length) => Hmac.Update(input, inOff, length);

    public void Update(ReadOnlySpan<byte> input) => Hmac.Update(input);

    public byte[] CalculateMac() => Hmac.CalculateMac();

    public void CalculateMac(byte[] output, int outOff) => Hmac.CalculateMac(output, outOff);

    public void Reset() => _hmac?.Reset();
}
