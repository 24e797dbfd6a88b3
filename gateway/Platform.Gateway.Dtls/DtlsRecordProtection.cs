using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Platform.Gateway.Dtls;

/// <summary>What <see cref="DtlsRecordProtection.Open"/> made of one record.</summary>
internal enum DtlsOpenResult
{
    /// <summary>Authenticated and decrypted; its sequence number is now marked as received.</summary>
    Opened,

    /// <summary>Not epoch 1, or not DTLS 1.2 in the record header.</summary>
    WrongEpoch,

    /// <summary>A sequence number already received, or older than the 64-record window.</summary>
    Replayed,

    /// <summary>Too short for the suite's nonce and tag, too long for a record, or the tag did not verify.</summary>
    BadRecord,
}

/// <summary>
/// DTLS 1.2 record protection of one server session for an AEAD suite (RFC 5246 6.2.3.3 with RFC 6347's record
/// header), after the handshake: epoch 1 only, reading with the client's keys and writing with the server's.
/// The additional data is epoch(2) sequence(6) type(1) version(2) plaintext length(2); AES-GCM and AES-CCM use the
/// 4-byte write IV followed by the record's 8-byte explicit nonce, which is the record's own epoch and sequence number
/// when we write it; ChaCha20-Poly1305 XORs the 12-byte write IV with the epoch and sequence number left-padded to
/// 12 bytes. Received records pass a 64-record sliding window (RFC 6347 4.1.2.6) before and after authentication.
/// Every record written takes the next sequence number; none is ever written twice, and the session ends rather
/// than wrap. The AEAD objects are made at the first record and released once the session is quiet
/// (<see cref="ReleaseContexts"/>; an AES-GCM one holds a 1.7 KiB native context, see docs/benchmarks.md), so an idle
/// session holds only the key and IV bytes, zeroed on <see cref="Dispose"/>.
/// </summary>
internal sealed class DtlsRecordProtection : IDisposable
{
    public const ushort Epoch = 1;
    public const ulong MaxSequence = (1UL << 48) - 1;
    private const int MaxCiphertextExpansion = 2048; // RFC 6347 4.1: a record's fragment is at most 2^14 + 2048 bytes
    private const int MaxPlaintext = 16384;

    private readonly DtlsKeyBlock _keys;
    private ulong _nextWrite;
    private ulong _highestRead;
    private ulong _window; // bit i: _highestRead - i received
    private bool _anyRead;
    private bool _disposed;
    private Aead? _reader;
    private Aead? _writer;

    public DtlsRecordProtection(DtlsKeyBlock keys, ulong nextWriteSequence)
    {
        _keys = keys;
        _nextWrite = nextWriteSequence;
    }

    public DtlsAeadSuite Suite => _keys.Suite;

    /// <summary>Bytes a record adds to its plaintext: the header, the explicit nonce and the tag.</summary>
    public int Overhead => DtlsRecords.RecordHeaderLength + Suite.RecordIvLength + Suite.TagLength;

    /// <summary>The sequence number the next record written takes.</summary>
    public ulong NextWriteSequence => _nextWrite;

    /// <summary>Marks <paramref name="sequence"/> (epoch 1) as received, as for a record OpenSSL already read.</summary>
    public void MarkReceived(ulong sequence)
    {
        if (!_anyRead || sequence > _highestRead)
        {
            var shift = _anyRead ? sequence - _highestRead : 64;
            _window = shift >= 64 ? 1UL : (_window << (int)shift) | 1UL;
            _highestRead = sequence;
            _anyRead = true;
        }
        else
        {
            var back = _highestRead - sequence;
            if (back < 64)
            {
                _window |= 1UL << (int)back;
            }
        }
    }

    /// <summary>Whether <paramref name="sequence"/> is new and within the window.</summary>
    public bool IsFresh(ulong sequence)
    {
        if (!_anyRead || sequence > _highestRead)
        {
            return true;
        }

        var back = _highestRead - sequence;
        return back < 64 && (_window & (1UL << (int)back)) == 0;
    }

    /// <summary>
    /// Protects <paramref name="plaintext"/> as one epoch-1 record of <paramref name="contentType"/>; null, with nothing
    /// written, when the write sequence numbers are used up (the caller ends the session).
    /// </summary>
    public byte[]? Seal(byte contentType, ReadOnlySpan<byte> plaintext)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_nextWrite > MaxSequence)
        {
            return null;
        }

        if (plaintext.Length > MaxPlaintext)
        {
            throw new ArgumentOutOfRangeException(nameof(plaintext), "A record carries at most 16384 bytes.");
        }

        var sequence = _nextWrite++;
        var suite = Suite;
        var record = new byte[Overhead + plaintext.Length];
        record[0] = contentType;
        record[1] = 0xFE;
        record[2] = 0xFD;
        BinaryPrimitives.WriteUInt64BigEndian(record.AsSpan(3), ((ulong)Epoch << 48) | sequence);
        BinaryPrimitives.WriteUInt16BigEndian(record.AsSpan(11), (ushort)(record.Length - DtlsRecords.RecordHeaderLength));
        Span<byte> aad = stackalloc byte[13];
        WriteAdditionalData(record, plaintext.Length, aad);
        Span<byte> nonce = stackalloc byte[12];
        var fragment = record.AsSpan(DtlsRecords.RecordHeaderLength);
        if (suite.RecordIvLength > 0)
        {
            // The explicit nonce is the record's epoch and sequence number: unique for the key by construction.
            record.AsSpan(3, 8).CopyTo(fragment);
        }

        MakeNonce(suite, _keys.ServerWriteIv, record.AsSpan(3, 8), fragment[..suite.RecordIvLength], nonce);
        var body = fragment[suite.RecordIvLength..];
        (_writer ??= Aead.Create(suite, _keys.ServerWriteKey)).Encrypt(nonce, plaintext, body[..plaintext.Length], body[plaintext.Length..], aad);
        return record;
    }

    /// <summary>
    /// Checks and decrypts one whole record (header and fragment) into <paramref name="plaintext"/> (at least the
    /// fragment's length); a record that does not open leaves the window as it was.
    /// </summary>
    public DtlsOpenResult Open(ReadOnlySpan<byte> record, Span<byte> plaintext, out int plaintextLength)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        plaintextLength = 0;
        if (record.Length < DtlsRecords.RecordHeaderLength || record[1] != 0xFE || record[2] != 0xFD
            || BinaryPrimitives.ReadUInt16BigEndian(record[3..]) != Epoch)
        {
            return DtlsOpenResult.WrongEpoch;
        }

        var sequence = BinaryPrimitives.ReadUInt64BigEndian(record[3..]) & MaxSequence;
        if (!IsFresh(sequence))
        {
            return DtlsOpenResult.Replayed;
        }

        if (!TryOpen(_reader ??= Aead.Create(Suite, _keys.ClientWriteKey), Suite, _keys.ClientWriteIv, record, plaintext, out plaintextLength))
        {
            return DtlsOpenResult.BadRecord;
        }

        MarkReceived(sequence);
        return DtlsOpenResult.Opened;
    }

    /// <summary>
    /// Authenticates and decrypts one whole record with the given write key and IV, whatever its epoch: the check that
    /// derived keys match what OpenSSL used, on records it wrote or read during the handshake.
    /// </summary>
    public static bool TryOpen(DtlsAeadSuite suite, ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, ReadOnlySpan<byte> record, Span<byte> plaintext, out int plaintextLength)
    {
        using var aead = Aead.Create(suite, key);
        return TryOpen(aead, suite, iv, record, plaintext, out plaintextLength);
    }

    /// <summary>
    /// Releases the AEAD objects (an AES-GCM one holds an OpenSSL cipher context of about 1.7 KiB); the next record
    /// makes them again. Called once the session has been quiet for a moment.
    /// </summary>
    public void ReleaseContexts()
    {
        _reader?.Dispose();
        _reader = null;
        _writer?.Dispose();
        _writer = null;
    }

    /// <summary>Whether AEAD objects are held now.</summary>
    public bool HoldsContexts => _reader is not null || _writer is not null;

    private static bool TryOpen(Aead aead, DtlsAeadSuite suite, ReadOnlySpan<byte> iv, ReadOnlySpan<byte> record, Span<byte> plaintext, out int plaintextLength)
    {
        plaintextLength = 0;
        if (record.Length < DtlsRecords.RecordHeaderLength)
        {
            return false;
        }

        var fragmentLength = BinaryPrimitives.ReadUInt16BigEndian(record[11..]);
        if (fragmentLength != record.Length - DtlsRecords.RecordHeaderLength || fragmentLength > MaxPlaintext + MaxCiphertextExpansion
            || fragmentLength < suite.RecordIvLength + suite.TagLength)
        {
            return false;
        }

        var fragment = record[DtlsRecords.RecordHeaderLength..];
        var length = fragmentLength - suite.RecordIvLength - suite.TagLength;
        if (plaintext.Length < length)
        {
            return false;
        }

        Span<byte> aad = stackalloc byte[13];
        WriteAdditionalData(record, length, aad);
        Span<byte> nonce = stackalloc byte[12];
        MakeNonce(suite, iv, record.Slice(3, 8), fragment[..suite.RecordIvLength], nonce);
        var body = fragment[suite.RecordIvLength..];
        if (!aead.TryDecrypt(nonce, body[..length], body[length..], plaintext[..length], aad))
        {
            plaintext[..length].Clear();
            return false;
        }

        plaintextLength = length;
        return true;
    }

    public void Dispose()
    {
        _disposed = true;
        ReleaseContexts();
        _keys.Dispose();
    }

    private static void WriteAdditionalData(ReadOnlySpan<byte> header, int plaintextLength, Span<byte> aad)
    {
        header.Slice(3, 8).CopyTo(aad); // epoch and sequence number
        aad[8] = header[0];
        aad[9] = header[1];
        aad[10] = header[2];
        BinaryPrimitives.WriteUInt16BigEndian(aad[11..], (ushort)plaintextLength);
    }

    private static void MakeNonce(DtlsAeadSuite suite, ReadOnlySpan<byte> iv, ReadOnlySpan<byte> epochAndSequence, ReadOnlySpan<byte> explicitNonce, Span<byte> nonce)
    {
        if (suite.Kind == DtlsAeadKind.ChaCha20Poly1305)
        {
            iv.CopyTo(nonce);
            for (var i = 0; i < 8; i++)
            {
                nonce[4 + i] ^= epochAndSequence[i];
            }
        }
        else
        {
            iv.CopyTo(nonce);
            explicitNonce.CopyTo(nonce[4..]);
        }
    }

    /// <summary>
    /// One AEAD object of the suite's kind over one key; its native context lives until disposed. The .NET types share
    /// no interface, so each kind names its two operations once, in <see cref="Create"/>; a tag that does not verify is
    /// the one failure <see cref="TryDecrypt"/> turns into false.
    /// </summary>
    private abstract class Aead : IDisposable
    {
        private delegate void EncryptOp<T>(T aead, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag, ReadOnlySpan<byte> aad);

        private delegate void DecryptOp<T>(T aead, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext, ReadOnlySpan<byte> aad);

        public static Aead Create(DtlsAeadSuite suite, ReadOnlySpan<byte> key) => suite.Kind switch
        {
            DtlsAeadKind.AesGcm => new Of<AesGcm>(
                new AesGcm(key, suite.TagLength), static (a, n, p, c, t, d) => a.Encrypt(n, p, c, t, d), static (a, n, c, t, p, d) => a.Decrypt(n, c, t, p, d)),
            DtlsAeadKind.AesCcm or DtlsAeadKind.AesCcm8 => new Of<AesCcm>(
                new AesCcm(key), static (a, n, p, c, t, d) => a.Encrypt(n, p, c, t, d), static (a, n, c, t, p, d) => a.Decrypt(n, c, t, p, d)),
            _ => new Of<ChaCha20Poly1305>(
                new ChaCha20Poly1305(key), static (a, n, p, c, t, d) => a.Encrypt(n, p, c, t, d), static (a, n, c, t, p, d) => a.Decrypt(n, c, t, p, d)),
        };

        public abstract void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag, ReadOnlySpan<byte> aad);

        public bool TryDecrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext, ReadOnlySpan<byte> aad)
        {
            try
            {
                Decrypt(nonce, ciphertext, tag, plaintext, aad);
                return true;
            }
            catch (AuthenticationTagMismatchException)
            {
                // Not authentic (or not under this key): the caller drops the record.
                return false;
            }
        }

        public abstract void Dispose();

        protected abstract void Decrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext, ReadOnlySpan<byte> aad);

        /// <summary>An AEAD of type <typeparamref name="T"/>; the operations are static lambdas, made once per kind.</summary>
        private sealed class Of<T>(T aead, EncryptOp<T> encrypt, DecryptOp<T> decrypt) : Aead
            where T : IDisposable
        {
            public override void Encrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext, Span<byte> tag, ReadOnlySpan<byte> aad) =>
                encrypt(aead, nonce, plaintext, ciphertext, tag, aad);

            public override void Dispose() => aead.Dispose();

            protected override void Decrypt(ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext, ReadOnlySpan<byte> aad) =>
                decrypt(aead, nonce, ciphertext, tag, plaintext, aad);
        }
    }
}
