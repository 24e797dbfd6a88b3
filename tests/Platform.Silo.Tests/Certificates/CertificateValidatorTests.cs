using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Platform.Contracts.Certificates;
using Platform.Contracts.Problems;
using Platform.Silo.Certificates;

namespace Platform.Silo.Tests.Certificates;

public sealed class CertificateValidatorTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void TryValidate_RsaPemWithPkcs8Key_AcceptsAndDescribesLeaf()
    {
        using var certificate = TestCertificates.Create(Now, ["Device.Example.COM", "api.example.com"], subject: "CN=device.example.com, O=Test");

        var ok = CertificateValidator.TryValidate(new UploadCertificateRequest(Pem: TestCertificates.Pem(certificate)), Now, out var result, out var rejection);

        Assert.True(ok, rejection?.Detail);
        Assert.Equal("CN=device.example.com, O=Test", result!.Subject);
        Assert.Equal(certificate.Issuer, result.Issuer);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(certificate.RawData)), result.Thumbprint);
        Assert.Equal(["api.example.com", "device.example.com"], result.HostNames);
        Assert.Equal("RSA", result.KeyAlgorithm);
        Assert.Equal(new DateTimeOffset(certificate.NotBefore.ToUniversalTime()), result.NotBefore);
        Assert.Equal(new DateTimeOffset(certificate.NotAfter.ToUniversalTime()), result.NotAfter);
        Assert.Equal(1, result.ChainLength);
        Assert.Equal(certificate.RawData, X509Certificate2.CreateFromPem(result.ChainPem).RawData);
        Assert.Equal(TestCertificates.Pkcs8(certificate), result.PrivateKeyPkcs8);
    }

    [Fact]
    public void TryValidate_EcdsaP256Pem_AcceptsAsEcdsa()
    {
        using var certificate = TestCertificates.Create(Now, ["ec.example.com"], ecdsa: true);

        var ok = CertificateValidator.TryValidate(new UploadCertificateRequest(Pem: TestCertificates.Pem(certificate)), Now, out var result, out var rejection);

        Assert.True(ok, rejection?.Detail);
        Assert.Equal("ECDSA", result!.KeyAlgorithm);
        using var key = ECDsa.Create();
        key.ImportPkcs8PrivateKey(result.PrivateKeyPkcs8, out _);
        Assert.Equal(certificate.GetECDsaPublicKey()!.ExportSubjectPublicKeyInfo(), key.ExportSubjectPublicKeyInfo());
    }

    [Fact]
    public void TryValidate_Pkcs1RsaKey_Accepts()
    {
        using var certificate = TestCertificates.Create(Now, ["rsa1.example.com"]);
        using var key = certificate.GetRSAPrivateKey()!;
        var pem = certificate.ExportCertificatePem() + "\n" + key.ExportRSAPrivateKeyPem();

        Assert.True(CertificateValidator.TryValidate(new UploadCertificateRequest(Pem: pem), Now, out _, out var rejection), rejection?.Detail);
    }

    [Fact]
    public void TryValidate_Sec1EcKeyBeforeCertificate_Accepts()
    {
        using var certificate = TestCertificates.Create(Now, ["sec1.example.com"], ecdsa: true);
        using var key = certificate.GetECDsaPrivateKey()!;
        var pem = key.ExportECPrivateKeyPem() + "\n" + certificate.ExportCertificatePem();

        Assert.True(CertificateValidator.TryValidate(new UploadCertificateRequest(Pem: pem), Now, out var result, out var rejection), rejection?.Detail);
        Assert.Equal("ECDSA", result!.KeyAlgorithm);
    }

    [Fact]
    public void TryValidate_EncryptedPkcs8WithPassword_Accepts()
    {
        using var certificate = TestCertificates.Create(Now, ["enc.example.com"]);
        var pem = EncryptedPem(certificate, "s3cret", 10_000);

        var ok = CertificateValidator.TryValidate(new UploadCertificateRequest(Pem: pem, Password: "s3cret"), Now, out var result, out var rejection);

        Assert.True(ok, rejection?.Detail);
        Assert.Equal(TestCertificates.Pkcs8(certificate), result!.PrivateKeyPkcs8);
    }

    [Fact]
    public void TryValidate_EncryptedEcKeyWithPassword_Accepts()
    {
        using var certificate = TestCertificates.Create(Now, ["enc-ec.example.com"], ecdsa: true);

        var ok = CertificateValidator.TryValidate(
            new UploadCertificateRequest(Pem: EncryptedPem(certificate, "pw", 2048), Password: "pw"), Now, out var result, out var rejection);

        Assert.True(ok, rejection?.Detail);
        Assert.Equal("ECDSA", result!.KeyAlgorithm);
    }

    [Theory]
    [InlineData(null, FieldErrorCodes.Required)]
    [InlineData("wrong", FieldErrorCodes.InvalidFormat)]
    public void TryValidate_EncryptedPkcs8WithoutRightPassword_RejectsPassword(string? password, string fieldCode)
    {
        using var certificate = TestCertificates.Create(Now, ["enc.example.com"]);
        var pem = EncryptedPem(certificate, "s3cret", 2048);

        var rejection = Reject(new UploadCertificateRequest(Pem: pem, Password: password));

        Assert.Equal(ErrorCodes.CertificateInvalid, rejection.Code);
        Assert.Equal("password", rejection.Field);
        Assert.Equal(fieldCode, rejection.FieldCode);
    }

    [Fact]
    public void TryValidate_EncryptedKeyWithExcessiveIterations_RejectsBeforeDecrypting()
    {
        using var certificate = TestCertificates.Create(Now, ["slow.example.com"], ecdsa: true);
        var pem = EncryptedPem(certificate, "pw", 700_000);

        var rejection = Reject(new UploadCertificateRequest(Pem: pem, Password: "pw"));

        Assert.Equal(ErrorCodes.CertificateInvalid, rejection.Code);
        Assert.Contains("iterations", rejection.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void TryValidate_PfxWithPassword_AcceptsWithKey()
    {
        using var certificate = TestCertificates.Create(Now, ["pfx.example.com"], ecdsa: true);

        var ok = CertificateValidator.TryValidate(
            new UploadCertificateRequest(Pfx: TestCertificates.Pfx(certificate, "pfx-pw"), Password: "pfx-pw"), Now, out var result, out var rejection);

        Assert.True(ok, rejection?.Detail);
        Assert.Equal(["pfx.example.com"], result!.HostNames);
        using var key = ECDsa.Create();
        key.ImportPkcs8PrivateKey(result.PrivateKeyPkcs8, out _);
        Assert.Equal(certificate.GetECDsaPublicKey()!.ExportSubjectPublicKeyInfo(), key.ExportSubjectPublicKeyInfo());
    }

    [Fact]
    public void TryValidate_PfxWithoutPassword_Accepts()
    {
        using var certificate = TestCertificates.Create(Now, ["nopw.example.com"]);

        Assert.True(CertificateValidator.TryValidate(
            new UploadCertificateRequest(Pfx: TestCertificates.Pfx(certificate, null)), Now, out _, out var rejection), rejection?.Detail);
    }

    [Fact]
    public void TryValidate_PfxWrongPassword_RejectsAsInvalid()
    {
        using var certificate = TestCertificates.Create(Now, ["pfx.example.com"]);

        var rejection = Reject(new UploadCertificateRequest(Pfx: TestCertificates.Pfx(certificate, "right"), Password: "wrong"));

        Assert.Equal(ErrorCodes.CertificateInvalid, rejection.Code);
        Assert.Equal("pfx", rejection.Field);
    }

    [Fact]
    public void TryValidate_PfxWithoutKey_RejectsAsNoPrivateKey()
    {
        using var certificate = TestCertificates.Create(Now, ["pfx.example.com"]);
        using var publicOnly = X509CertificateLoader.LoadCertificate(certificate.RawData);
        var pfx = Convert.ToBase64String(publicOnly.Export(X509ContentType.Pfx, "pw"));

        Assert.Equal(ErrorCodes.CertificateNoPrivateKey, Reject(new UploadCertificateRequest(Pfx: pfx, Password: "pw")).Code);
    }

    [Theory]
    [InlineData("not base64 at all!")]
    [InlineData("AAECAwQFBgcICQ==")]
    public void TryValidate_PfxGarbage_RejectsAsInvalid(string pfx)
    {
        var rejection = Reject(new UploadCertificateRequest(Pfx: pfx));

        Assert.Equal(ErrorCodes.CertificateInvalid, rejection.Code);
        Assert.Equal("pfx", rejection.Field);
    }

    [Fact]
    public void TryValidate_BothPemAndPfx_FailsValidation()
    {
        using var certificate = TestCertificates.Create(Now, ["both.example.com"]);

        var rejection = Reject(new UploadCertificateRequest(Pem: TestCertificates.Pem(certificate), Pfx: TestCertificates.Pfx(certificate, null)));

        Assert.Equal(ErrorCodes.ValidationFailed, rejection.Code);
        Assert.Equal(FieldErrorCodes.Inconsistent, rejection.FieldCode);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("", "  ")]
    public void TryValidate_NeitherPemNorPfx_FailsValidation(string? pem, string? pfx)
    {
        var rejection = Reject(new UploadCertificateRequest(Pem: pem, Pfx: pfx));

        Assert.Equal(ErrorCodes.ValidationFailed, rejection.Code);
        Assert.Equal(FieldErrorCodes.Required, rejection.FieldCode);
    }

    [Theory]
    [InlineData("hello world")]
    [InlineData("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")]
    [InlineData("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n")]
    public void TryValidate_GarbagePem_RejectsAsInvalid(string pem)
    {
        var rejection = Reject(new UploadCertificateRequest(Pem: pem));

        Assert.Equal(ErrorCodes.CertificateInvalid, rejection.Code);
        Assert.Equal("pem", rejection.Field);
    }

    [Fact]
    public void TryValidate_GarbageKeyBlock_RejectsAsInvalid()
    {
        using var certificate = TestCertificates.Create(Now, ["x.example.com"]);
        var pem = certificate.ExportCertificatePem() + "\n-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n";

        Assert.Equal(ErrorCodes.CertificateInvalid, Reject(new UploadCertificateRequest(Pem: pem)).Code);
    }

    [Fact]
    public void TryValidate_UnsupportedPemBlock_RejectsAsInvalid()
    {
        using var certificate = TestCertificates.Create(Now, ["x.example.com"]);
        var pem = TestCertificates.Pem(certificate) + "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n";

        var rejection = Reject(new UploadCertificateRequest(Pem: pem));

        Assert.Equal(ErrorCodes.CertificateInvalid, rejection.Code);
        Assert.Contains("X509 CRL", rejection.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void TryValidate_LegacyEncryptedPem_RejectsWithAdvice()
    {
        var pem = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";

        var rejection = Reject(new UploadCertificateRequest(Pem: pem));

        Assert.Equal(ErrorCodes.CertificateInvalid, rejection.Code);
        Assert.Contains("pkcs8", rejection.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void TryValidate_PemWithoutKey_RejectsAsNoPrivateKey()
    {
        using var certificate = TestCertificates.Create(Now, ["x.example.com"]);

        Assert.Equal(ErrorCodes.CertificateNoPrivateKey, Reject(new UploadCertificateRequest(Pem: certificate.ExportCertificatePem())).Code);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, true)]
    [InlineData(false, true)]
    public void TryValidate_KeyOfAnotherCertificate_RejectsAsNoPrivateKey(bool certificateEc, bool keyEc)
    {
        using var certificate = TestCertificates.Create(Now, ["x.example.com"], ecdsa: certificateEc);
        using var other = TestCertificates.Create(Now, ["x.example.com"], ecdsa: keyEc, freshKey: true);
        using var otherKey = TestCertificates.PrivateKey(other);
        var pem = certificate.ExportCertificatePem() + "\n" + otherKey.ExportPkcs8PrivateKeyPem();

        var rejection = Reject(new UploadCertificateRequest(Pem: pem));

        Assert.Equal(ErrorCodes.CertificateNoPrivateKey, rejection.Code);
    }

    [Fact]
    public void TryValidate_TwoKeys_RejectsAsInvalid()
    {
        using var certificate = TestCertificates.Create(Now, ["x.example.com"]);
        using var key = certificate.GetRSAPrivateKey()!;
        var pem = TestCertificates.Pem(certificate) + key.ExportRSAPrivateKeyPem();

        Assert.Equal(ErrorCodes.CertificateInvalid, Reject(new UploadCertificateRequest(Pem: pem)).Code);
    }

    [Fact]
    public void TryValidate_Expired_RejectsAsExpired()
    {
        using var certificate = TestCertificates.Create(Now, ["old.example.com"], validFrom: TimeSpan.FromDays(-100), validFor: TimeSpan.FromDays(30));

        var rejection = Reject(new UploadCertificateRequest(Pem: TestCertificates.Pem(certificate)));

        Assert.Equal(ErrorCodes.CertificateExpired, rejection.Code);
        Assert.Contains("expired", rejection.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void TryValidate_NotYetValid_RejectsAsExpired()
    {
        using var certificate = TestCertificates.Create(Now, ["new.example.com"], validFrom: TimeSpan.FromDays(2));

        var rejection = Reject(new UploadCertificateRequest(Pem: TestCertificates.Pem(certificate)));

        Assert.Equal(ErrorCodes.CertificateExpired, rejection.Code);
        Assert.Contains("not valid before", rejection.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void TryValidate_ClientAuthOnlyEku_RejectsUsage()
    {
        using var certificate = TestCertificates.Create(Now, ["client.example.com"], enhancedKeyUsages: [TestCertificates.ClientAuth]);

        Assert.Equal(ErrorCodes.CertificateUsage, Reject(new UploadCertificateRequest(Pem: TestCertificates.Pem(certificate))).Code);
    }

    [Fact]
    public void TryValidate_ServerAndClientAuthEku_Accepts()
    {
        using var certificate = TestCertificates.Create(Now, ["both.example.com"], enhancedKeyUsages: [TestCertificates.ClientAuth, TestCertificates.ServerAuth]);

        Assert.True(CertificateValidator.TryValidate(new UploadCertificateRequest(Pem: TestCertificates.Pem(certificate)), Now, out _, out var rejection), rejection?.Detail);
    }

    [Theory]
    [InlineData(false, X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, false)]
    [InlineData(false, X509KeyUsageFlags.KeyEncipherment, true)]
    [InlineData(false, X509KeyUsageFlags.DigitalSignature, true)]
    [InlineData(true, X509KeyUsageFlags.KeyEncipherment, false)]
    [InlineData(true, X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true)]
    public void TryValidate_KeyUsage_AllowsOnlyWhatATlsServerNeeds(bool ecdsa, X509KeyUsageFlags usage, bool accepted)
    {
        using var certificate = TestCertificates.Create(Now, ["ku.example.com"], ecdsa: ecdsa, keyUsage: usage);

        var ok = CertificateValidator.TryValidate(new UploadCertificateRequest(Pem: TestCertificates.Pem(certificate)), Now, out _, out var rejection);

        Assert.Equal(accepted, ok);
        if (!accepted)
        {
            Assert.Equal(ErrorCodes.CertificateUsage, rejection!.Code);
        }
    }

    [Fact]
    public void TryValidate_NoSubjectAltName_RejectsAsNoHostNames()
    {
        using var certificate = TestCertificates.Create(Now, dnsNames: null, subject: "CN=only-in-subject.example.com");

        Assert.Equal(ErrorCodes.CertificateNoHostNames, Reject(new UploadCertificateRequest(Pem: TestCertificates.Pem(certificate))).Code);
    }

    [Fact]
    public void TryValidate_OnlyIpAddressSan_RejectsAsNoHostNames()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=ip", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var certificate = request.CreateSelfSigned(Now.AddDays(-1), Now.AddDays(30));

        Assert.Equal(ErrorCodes.CertificateNoHostNames, Reject(new UploadCertificateRequest(Pem: TestCertificates.Pem(certificate))).Code);
    }

    [Fact]
    public void TryValidate_WildcardSan_Accepts()
    {
        using var certificate = TestCertificates.Create(Now, ["*.Devices.Example.com"]);

        Assert.True(CertificateValidator.TryValidate(new UploadCertificateRequest(Pem: TestCertificates.Pem(certificate)), Now, out var result, out var rejection), rejection?.Detail);
        Assert.Equal(["*.devices.example.com"], result!.HostNames);
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("bad_name.example.com")]
    [InlineData("*.*.example.com")]
    public void TryValidate_SanThatIsNoValidHostName_RejectsAsInvalid(string name)
    {
        using var certificate = TestCertificates.Create(Now, ["good.example.com", name]);

        var rejection = Reject(new UploadCertificateRequest(Pem: TestCertificates.Pem(certificate)));

        Assert.Equal(ErrorCodes.CertificateInvalid, rejection.Code);
        Assert.Contains(name, rejection.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void TryValidate_ChainSuppliedOutOfOrder_StoresLeafFirstThenIssuers()
    {
        using var root = TestCertificates.Create(Now, ["root.example.com"], isCertificateAuthority: true, subject: "CN=Test Root", ecdsa: true);
        using var intermediate = TestCertificates.Create(Now, ["ca.example.com"], issuer: root, isCertificateAuthority: true, subject: "CN=Test Intermediate", ecdsa: true);
        using var leaf = TestCertificates.Create(Now, ["leaf.example.com"], issuer: intermediate, subject: "CN=leaf.example.com", ecdsa: true, freshKey: true);
        using var key = TestCertificates.PrivateKey(leaf);
        var pem = root.ExportCertificatePem() + "\n" + intermediate.ExportCertificatePem() + "\n" + key.ExportPkcs8PrivateKeyPem() + "\n" + leaf.ExportCertificatePem();

        var ok = CertificateValidator.TryValidate(new UploadCertificateRequest(Pem: pem), Now, out var result, out var rejection);

        Assert.True(ok, rejection?.Detail);
        Assert.Equal("CN=leaf.example.com", result!.Subject);
        Assert.Equal("CN=Test Intermediate", result.Issuer);
        Assert.Equal(["leaf.example.com"], result.HostNames);
        var chain = new X509Certificate2Collection();
        chain.ImportFromPem(result.ChainPem);
        Assert.Equal([leaf.Thumbprint, intermediate.Thumbprint, root.Thumbprint], chain.Select(c => c.Thumbprint).ToArray());
    }

    [Fact]
    public void TryValidate_PfxWithChain_StoresLeafFirst()
    {
        using var root = TestCertificates.Create(Now, ["root.example.com"], isCertificateAuthority: true, subject: "CN=Test Root", ecdsa: true);
        using var leaf = TestCertificates.Create(Now, ["leaf.example.com"], issuer: root, subject: "CN=leaf.example.com", ecdsa: true, freshKey: true);
        using var publicRoot = X509CertificateLoader.LoadCertificate(root.RawData);
        var pfx = Convert.ToBase64String(new X509Certificate2Collection { publicRoot, leaf }.Export(X509ContentType.Pfx, "pw")!);

        var ok = CertificateValidator.TryValidate(new UploadCertificateRequest(Pfx: pfx, Password: "pw"), Now, out var result, out var rejection);

        Assert.True(ok, rejection?.Detail);
        Assert.Equal(2, result!.ChainLength);
        var chain = new X509Certificate2Collection();
        chain.ImportFromPem(result.ChainPem);
        Assert.Equal([leaf.Thumbprint, root.Thumbprint], chain.Select(c => c.Thumbprint).ToArray());
    }

    [Fact]
    public void TryValidate_MoreThanTenCertificates_RejectsAsInvalid()
    {
        using var certificate = TestCertificates.Create(Now, ["x.example.com"]);
        var pem = TestCertificates.Pem(certificate) + string.Concat(Enumerable.Repeat(certificate.ExportCertificatePem() + "\n", CertificateValidator.MaxChainLength));

        var rejection = Reject(new UploadCertificateRequest(Pem: pem));

        Assert.Equal(ErrorCodes.CertificateInvalid, rejection.Code);
        Assert.Contains("more than 10", rejection.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void TryValidate_Rejections_NeverQuoteKeyMaterial()
    {
        using var certificate = TestCertificates.Create(Now, ["x.example.com"]);
        using var other = TestCertificates.Create(Now, ["x.example.com"], freshKey: true);
        using var otherKey = TestCertificates.PrivateKey(other);
        var keyPem = otherKey.ExportPkcs8PrivateKeyPem();

        var rejection = Reject(new UploadCertificateRequest(Pem: certificate.ExportCertificatePem() + "\n" + keyPem));

        Assert.DoesNotContain("PRIVATE KEY", rejection.Detail, StringComparison.Ordinal);
        var base64Line = keyPem.Split('\n')[1];
        Assert.DoesNotContain(base64Line, rejection.Detail, StringComparison.Ordinal);
    }

    private static CertificateRejection Reject(UploadCertificateRequest request)
    {
        Assert.False(CertificateValidator.TryValidate(request, Now, out var result, out var rejection));
        Assert.Null(result);
        return rejection!;
    }

    private static string EncryptedPem(X509Certificate2 certificate, string password, int iterations)
    {
        using var key = TestCertificates.PrivateKey(certificate);
        var parameters = new PbeParameters(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, iterations);
        return certificate.ExportCertificatePem() + "\n" + key.ExportEncryptedPkcs8PrivateKeyPem(password, parameters) + "\n";
    }
}
