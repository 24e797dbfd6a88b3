using System.Security.Cryptography;
using Platform.Contracts.Problems;
using Platform.Contracts.RawKeys;
using Platform.Silo.RawKeys;

namespace Platform.Silo.Tests.RawKeys;

public sealed class RawPublicKeyParserTests
{
    [Fact]
    public void EcP256Pem_IsAcceptedWithTheFingerprintOfItsDer()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var der = key.ExportSubjectPublicKeyInfo();

        var parsed = Accepted(key.ExportSubjectPublicKeyInfoPem());

        Assert.Equal(RawPublicKeyAlgorithms.EcP256, parsed.Algorithm);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(der)), parsed.Fingerprint);
        Assert.Equal(der, parsed.SubjectPublicKeyInfo);
    }

    [Fact]
    public void EcP384Base64Der_AndRsa2048_AndEd25519_AreAccepted()
    {
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        using var rsa = RSA.Create(2048);

        Assert.Equal(RawPublicKeyAlgorithms.EcP384, Accepted(Convert.ToBase64String(p384.ExportSubjectPublicKeyInfo())).Algorithm);
        Assert.Equal("rsa-2048", Accepted("\n  " + rsa.ExportSubjectPublicKeyInfoPem() + "\n").Algorithm);
        Assert.Equal(RawPublicKeyAlgorithms.Ed25519, Accepted(Ed25519Spki(Rfc8032PublicKey)).Algorithm);
    }

    [Fact]
    public void OpenSslGeneratedEd25519Key_IsAccepted()
    {
        var pem = RunOpenSsl("genpkey -algorithm ed25519", pipeTo: "pkey -pubout");

        var parsed = Accepted(pem);

        Assert.Equal(RawPublicKeyAlgorithms.Ed25519, parsed.Algorithm);
        Assert.Equal(44, parsed.SubjectPublicKeyInfo.Length);
    }

    [Fact]
    public void WeakOrUnsupportedKeys_AreNotAllowed()
    {
        using var rsa1024 = RSA.Create(1024);
        using var p521 = ECDsa.Create(ECCurve.NamedCurves.nistP521);
        using var k256 = ECDsa.Create(ECCurve.CreateFromFriendlyName("secP256k1"));
        using var explicitCurve = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var explicitParameters = explicitCurve.ExportExplicitParameters(false);
        using var explicitKey = ECDsa.Create(explicitParameters);
        var x25519 = Convert.FromHexString("302a300506032b656e032100" + Rfc8032PublicKey);
        var ed448 = Convert.FromHexString("3043300506032b6571033a00" + new string('1', 114));
        var identity = new byte[32];
        identity[0] = 1;
        var orderTwo = Convert.FromHexString("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");

        foreach (var (what, key) in new[]
        {
            ("RSA 1024", rsa1024.ExportSubjectPublicKeyInfoPem()),
            ("P-521", p521.ExportSubjectPublicKeyInfoPem()),
            ("secp256k1", k256.ExportSubjectPublicKeyInfoPem()),
            ("explicit curve", explicitKey.ExportSubjectPublicKeyInfoPem()),
            ("X25519", Convert.ToBase64String(x25519)),
            ("Ed448", Convert.ToBase64String(ed448)),
            ("Ed25519 identity", Ed25519Spki(Convert.ToHexString(identity))),
            ("Ed25519 point of order 2", Ed25519Spki(Convert.ToHexString(orderTwo))),
            ("RSA exponent 1", RsaSpki(new byte[256], [1])),
        })
        {
            var rejection = Refused(key, what);
            Assert.True(rejection.Code == ErrorCodes.RawPublicKeyNotAllowed, $"{what}: {rejection}");
        }
    }

    [Fact]
    public void PrivateKeysInEveryUsualForm_AreRefusedWithoutQuotingThem()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var rsa = RSA.Create(2048);
        var encrypted = ec.ExportEncryptedPkcs8PrivateKey("pw"u8, new PbeParameters(PbeEncryptionAlgorithm.Aes128Cbc, HashAlgorithmName.SHA256, 1000));
        var cases = new (string What, string Key)[]
        {
            ("PKCS#8 PEM", ec.ExportPkcs8PrivateKeyPem()),
            ("SEC 1 PEM", ec.ExportECPrivateKeyPem()),
            ("PKCS#1 PEM", rsa.ExportRSAPrivateKeyPem()),
            ("encrypted PKCS#8 PEM", ec.ExportEncryptedPkcs8PrivateKeyPem("pw"u8, new PbeParameters(PbeEncryptionAlgorithm.Aes128Cbc, HashAlgorithmName.SHA256, 1000))),
            ("PKCS#8 DER", Convert.ToBase64String(ec.ExportPkcs8PrivateKey())),
            ("SEC 1 DER", Convert.ToBase64String(ec.ExportECPrivateKey())),
            ("PKCS#1 DER", Convert.ToBase64String(rsa.ExportRSAPrivateKey())),
            ("encrypted PKCS#8 DER", Convert.ToBase64String(encrypted)),
            ("public and private PEM together", ec.ExportSubjectPublicKeyInfoPem() + "\n" + ec.ExportPkcs8PrivateKeyPem()),
        };

        foreach (var (what, key) in cases)
        {
            var rejection = Refused(key, what);
            Assert.True(rejection.Code == ErrorCodes.PrivateKeyRefused, $"{what}: {rejection}");
            var body = key.Split('\n').Where(l => l.Length > 20 && !l.StartsWith("-----", StringComparison.Ordinal)).Select(l => l[..20]);
            Assert.DoesNotContain(body, chunk => rejection.Detail.Contains(chunk, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void MalformedKeys_AreInvalid()
    {
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var cert = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=x", ec, HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1));
        using var rsa = RSA.Create(2048);
        var der = ec.ExportSubjectPublicKeyInfo();
        var offCurve = (byte[])der.Clone();
        offCurve[^1] ^= 0x01;
        var compressed = new byte[der.Length - 32];
        der.AsSpan(0, compressed.Length).CopyTo(compressed);
        compressed[1] = (byte)(compressed.Length - 2);
        compressed[^35] = 0x22;
        compressed[^34] = 0x00;
        compressed[^33] = 0x02;
        var longForm = new byte[der.Length + 1];
        longForm[0] = 0x30;
        longForm[1] = 0x81;
        der.AsSpan(1).CopyTo(longForm.AsSpan(2));
        var notOnEd25519 = new byte[32];
        notOnEd25519[0] = 2;

        foreach (var (what, key) in new[]
        {
            ("text", "hello, this is not a key"),
            ("base64 of garbage", Convert.ToBase64String("garbage bytes, not DER"u8)),
            ("truncated DER", Convert.ToBase64String(der.AsSpan(0, der.Length - 5))),
            ("trailing bytes", Convert.ToBase64String([.. der, 0x00])),
            ("BER long-form length", Convert.ToBase64String(longForm)),
            ("EC point off the curve", Convert.ToBase64String(offCurve)),
            ("EC point compressed", Convert.ToBase64String(compressed)),
            ("Ed25519 point off the curve", Ed25519Spki(Convert.ToHexString(notOnEd25519))),
            ("certificate", cert.ExportCertificatePem()),
            ("PKCS#1 public key", rsa.ExportRSAPublicKeyPem()),
            ("two public keys", ec.ExportSubjectPublicKeyInfoPem() + "\n" + rsa.ExportSubjectPublicKeyInfoPem()),
            ("broken PEM", "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----"),
            ("oversized", new string('A', RawPublicKeyParser.MaxKeyLength + 4)),
        })
        {
            var rejection = Refused(key, what);
            Assert.True(rejection.Code == ErrorCodes.RawPublicKeyInvalid, $"{what}: {rejection}");
        }
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("meter 42 (roof)", null)]
    [InlineData("", FieldErrorCodes.Required)]
    [InlineData("   ", FieldErrorCodes.Required)]
    [InlineData("line\nbreak", FieldErrorCodes.InvalidFormat)]
    public void Name_IsOptionalAndPrintable(string? name, string? code) =>
        Assert.Equal(code, RawPublicKeyParser.ValidateName(name)?.Code);

    [Fact]
    public void Name_WithABrokenSurrogatePair_IsInvalid() =>
        Assert.Equal(FieldErrorCodes.InvalidFormat, RawPublicKeyParser.ValidateName("bad " + (char)0xd800 + " surrogate")?.Code);

    [Fact]
    public void Name_LongerThan64_IsTooLong() =>
        Assert.Equal(FieldErrorCodes.TooLong, RawPublicKeyParser.ValidateName(new string('n', 65))?.Code);

    [Fact]
    public void Reference_IsAnIdOrAFingerprint()
    {
        var id = Guid.NewGuid();
        var fingerprint = new string('A', 64);

        Assert.Equal(new RawPublicKeyRef(id, null), RawPublicKeyRef.Parse(id.ToString()));
        Assert.Equal(new RawPublicKeyRef(null, new string('a', 64)), RawPublicKeyRef.Parse(fingerprint));
        Assert.Null(RawPublicKeyRef.Parse(new string('a', 63)));
        Assert.Null(RawPublicKeyRef.Parse(new string('g', 64)));
        Assert.Null(RawPublicKeyRef.Parse("' OR 1=1 --"));
    }

    /// <summary>The public key of RFC 8032's first Ed25519 test vector.</summary>
    internal const string Rfc8032PublicKey = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    internal static string Ed25519Spki(string publicKeyHex) =>
        Convert.ToBase64String(Convert.FromHexString("302a300506032b6570032100" + publicKeyHex));

    private static string RsaSpki(byte[] modulus, byte[] exponent)
    {
        modulus[0] = 0xc1;
        modulus[^1] = 0x01;
        var writer = new System.Formats.Asn1.AsnWriter(System.Formats.Asn1.AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            writer.WriteIntegerUnsigned(modulus);
            writer.WriteIntegerUnsigned(exponent);
        }

        var rsaPublicKey = writer.Encode();
        writer.Reset();
        using (writer.PushSequence())
        {
            using (writer.PushSequence())
            {
                writer.WriteObjectIdentifier("1.2.840.113549.1.1.1");
                writer.WriteNull();
            }

            writer.WriteBitString(rsaPublicKey);
        }

        return Convert.ToBase64String(writer.Encode());
    }

    private static ParsedRawPublicKey Accepted(string key)
    {
        var (parsed, rejection) = RawPublicKeyParser.Parse(key);
        Assert.True(rejection is null, $"Refused: {rejection}");
        return parsed!;
    }

    private static RawPublicKeyRejection Refused(string key, string what)
    {
        var (parsed, rejection) = RawPublicKeyParser.Parse(key);
        Assert.True(parsed is null, $"{what} was accepted as {parsed?.Algorithm}.");
        return rejection!;
    }

    private static string RunOpenSsl(string generate, string pipeTo)
    {
        var start = new System.Diagnostics.ProcessStartInfo("sh", ["-c", $"openssl {generate} | openssl {pipeTo}"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = System.Diagnostics.Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(60_000), "openssl did not finish.");
        Assert.True(process.ExitCode == 0, $"openssl failed: {error}");
        return output;
    }
}
