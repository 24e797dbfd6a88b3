using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;

namespace Platform.Gateway.Dtls.Tests.Offload;

/// <summary>The key block's PRF against OpenSSL's own TLS 1.2 PRF, and the record layer's nonces and replay window.</summary>
public sealed class RecordProtectionTests
{
    [Theory]
    [InlineData("SHA256", 100)]
    [InlineData("SHA384", 88)]
    public async Task Prf_MatchesOpenSslKdf(string hash, int length)
    {
        var secret = RandomNumberGenerator.GetBytes(48);
        var label = "key expansion"u8.ToArray();
        var seed = RandomNumberGenerator.GetBytes(64);
        var ours = new byte[length];
        DtlsKeyBlock.Prf(new HashAlgorithmName(hash), secret, label, seed, ours);

        // openssl kdf TLS1-PRF takes the label as the start of the seed, as RFC 5246 section 5 does.
        var info = new ProcessStartInfo("openssl", $"kdf -keylen {length} -kdfopt digest:{hash} -kdfopt hexsecret:{Convert.ToHexString(secret)} -kdfopt hexseed:{Convert.ToHexString([.. label, .. seed])} TLS1-PRF")
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.Equal(0, process.ExitCode);
        Assert.Equal(Convert.FromHexString(output.Trim().Replace(":", "", StringComparison.Ordinal)), ours);
    }

    [Theory]
    [InlineData("ECDHE-ECDSA-AES128-GCM-SHA256", "AesGcm", 16, "SHA256")]
    [InlineData("ECDHE-RSA-AES256-GCM-SHA384", "AesGcm", 32, "SHA384")]
    [InlineData("PSK-AES256-GCM-SHA384", "AesGcm", 32, "SHA384")]
    [InlineData("ECDHE-ECDSA-AES128-CCM8", "AesCcm8", 16, "SHA256")]
    [InlineData("PSK-AES128-CCM", "AesCcm", 16, "SHA256")]
    [InlineData("DHE-PSK-AES256-CCM8", "AesCcm8", 32, "SHA256")]
    [InlineData("ECDHE-PSK-CHACHA20-POLY1305", "ChaCha20Poly1305", 32, "SHA256")]
    public void SuiteNames_Covered(string name, string kind, int keyLength, string prf)
    {
        Assert.True(DtlsAeadSuite.TryFromOpenSslName(name, out var suite));
        Assert.Equal(new DtlsAeadSuite(Enum.Parse<DtlsAeadKind>(kind), keyLength, new HashAlgorithmName(prf)), suite);
    }

    [Theory]
    [InlineData("ECDHE-PSK-AES128-CBC-SHA256")]
    [InlineData("ECDHE-ECDSA-AES128-SHA")]
    [InlineData("ECDHE-ECDSA-ARIA128-GCM-SHA256")]
    [InlineData("ECDHE-ECDSA-CAMELLIA128-SHA256")]
    [InlineData("")]
    public void SuiteNames_NotCovered(string name) => Assert.False(DtlsAeadSuite.TryFromOpenSslName(name, out _));

    [Theory]
    [InlineData("PSK-AES128-GCM-SHA256")]
    [InlineData("PSK-AES128-CCM8")]
    [InlineData("ECDHE-PSK-CHACHA20-POLY1305")]
    public void Seal_EverySequenceNumberOnce_ExplicitNonceIsEpochAndSequence(string name)
    {
        using var records = Create(name, nextWrite: 1, out var keys);
        var seen = new HashSet<ulong>();
        var nonces = new HashSet<string>();
        var plaintext = new byte[40];
        for (var i = 0; i < 500; i++)
        {
            var record = records.Seal(23, plaintext)!;
            Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(record.AsSpan(3)));
            var sequence = BinaryPrimitives.ReadUInt64BigEndian(record.AsSpan(3)) & DtlsRecordProtection.MaxSequence;
            Assert.Equal((ulong)i + 1, sequence);
            Assert.True(seen.Add(sequence));
            if (keys.Suite.RecordIvLength > 0)
            {
                Assert.Equal(record.AsSpan(3, 8).ToArray(), record.AsSpan(13, 8).ToArray());
            }

            // Identical plaintexts never give identical ciphertexts: the nonce differs every time.
            Assert.True(nonces.Add(Convert.ToHexString(record.AsSpan(13))));
            var opened = new byte[record.Length];
            Assert.True(DtlsRecordProtection.TryOpen(keys.Suite, keys.ServerWriteKey, keys.ServerWriteIv, record, opened, out var length));
            Assert.Equal(plaintext.Length, length);
        }
    }

    [Fact]
    public void Seal_SequenceNumbersUsedUp_RefusesRatherThanWrap()
    {
        using var records = Create("PSK-AES128-GCM-SHA256", DtlsRecordProtection.MaxSequence, out _);
        Assert.NotNull(records.Seal(23, "last"u8));
        Assert.Null(records.Seal(23, "never"u8));
        Assert.Null(records.Seal(21, [1, 0]));
    }

    [Fact]
    public void ReplayWindow_NewAccepted_DuplicateAndTooOldRejected()
    {
        using var records = Create("PSK-AES128-GCM-SHA256", 1, out _);
        Assert.True(records.IsFresh(0));
        records.MarkReceived(0);
        Assert.False(records.IsFresh(0));
        records.MarkReceived(100);
        Assert.False(records.IsFresh(100));
        Assert.True(records.IsFresh(99));
        Assert.True(records.IsFresh(37));
        Assert.False(records.IsFresh(36)); // 64 behind the highest
        records.MarkReceived(60);
        Assert.False(records.IsFresh(60));
        Assert.True(records.IsFresh(61));
        records.MarkReceived(300);
        Assert.False(records.IsFresh(100));
        Assert.True(records.IsFresh(299));
    }

    [Fact]
    public void Open_RecordOfAnotherKeyOrTampered_BadRecordAndWindowUnchanged()
    {
        using var records = Create("PSK-AES128-GCM-SHA256", 1, out var keys);
        var plaintext = new byte[64];
        // A record as the client would write it: sealed with the client's keys (a second protection whose write side is the client's).
        var record = SealAsClient(keys, 5, "hello"u8);
        var tampered = (byte[])record.Clone();
        tampered[^1] ^= 0x80;
        Assert.Equal(DtlsOpenResult.BadRecord, records.Open(tampered, plaintext, out _));
        Assert.True(records.IsFresh(5));
        Assert.Equal(DtlsOpenResult.Opened, records.Open(record, plaintext, out var length));
        Assert.Equal("hello"u8.ToArray(), plaintext[..length]);
        Assert.Equal(DtlsOpenResult.Replayed, records.Open(record, plaintext, out _));
        var epoch2 = (byte[])record.Clone();
        epoch2[4] = 2;
        Assert.Equal(DtlsOpenResult.WrongEpoch, records.Open(epoch2, plaintext, out _));
        var truncated = SealAsClient(keys, 6, "hello"u8)[..^4];
        BinaryPrimitives.WriteUInt16BigEndian(truncated.AsSpan(11), (ushort)(truncated.Length - 13));
        Assert.Equal(DtlsOpenResult.BadRecord, records.Open(truncated, plaintext, out _));
    }

    [Fact]
    public void Dispose_ZeroesKeyMaterial()
    {
        var records = Create("ECDHE-PSK-CHACHA20-POLY1305", 1, out var keys);
        records.Seal(23, "x"u8);
        Assert.True(records.HoldsContexts);
        records.Dispose();
        Assert.False(records.HoldsContexts);
        Assert.All(new[] { keys.ClientWriteKey, keys.ServerWriteKey, keys.ClientWriteIv, keys.ServerWriteIv }, k => Assert.All(k, b => Assert.Equal(0, b)));
    }

    private static DtlsRecordProtection Create(string name, ulong nextWrite, out DtlsKeyBlock keys)
    {
        Assert.True(DtlsAeadSuite.TryFromOpenSslName(name, out var suite));
        keys = DtlsKeyBlock.Derive(suite, RandomNumberGenerator.GetBytes(48), RandomNumberGenerator.GetBytes(32), RandomNumberGenerator.GetBytes(32));
        return new DtlsRecordProtection(keys, nextWrite);
    }

    /// <summary>Seals with the client's write key and IV: a key block whose server half is this one's client half.</summary>
    private static byte[] SealAsClient(DtlsKeyBlock keys, ulong sequence, ReadOnlySpan<byte> plaintext)
    {
        var suite = keys.Suite;
        var record = new byte[13 + suite.RecordIvLength + plaintext.Length + suite.TagLength];
        record[0] = 23;
        record[1] = 0xFE;
        record[2] = 0xFD;
        BinaryPrimitives.WriteUInt64BigEndian(record.AsSpan(3), (1UL << 48) | sequence);
        BinaryPrimitives.WriteUInt16BigEndian(record.AsSpan(11), (ushort)(record.Length - 13));
        record.AsSpan(3, 8).CopyTo(record.AsSpan(13));
        Span<byte> nonce = stackalloc byte[12];
        keys.ClientWriteIv.CopyTo(nonce);
        record.AsSpan(13, 8).CopyTo(nonce[4..]);
        Span<byte> aad = stackalloc byte[13];
        record.AsSpan(3, 8).CopyTo(aad);
        aad[8] = 23;
        aad[9] = 0xFE;
        aad[10] = 0xFD;
        BinaryPrimitives.WriteUInt16BigEndian(aad[11..], (ushort)plaintext.Length);
        using var gcm = new AesGcm(keys.ClientWriteKey, 16);
        gcm.Encrypt(nonce, plaintext, record.AsSpan(21, plaintext.Length), record.AsSpan(21 + plaintext.Length), aad);
        return record;
    }
}
