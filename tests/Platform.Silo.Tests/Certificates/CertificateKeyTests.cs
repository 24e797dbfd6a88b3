using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Platform.Contracts.Certificates;
using Platform.Contracts.Problems;
using Platform.Silo.Certificates;
using Platform.Testing;
using static Platform.Silo.Tests.Tenants.TenantApiClient;

namespace Platform.Silo.Tests.Certificates;

/// <summary>Only RSA 2048..4096 and ECDSA P-256 / P-384 keys serve TLS; certificates made here or by the openssl command.</summary>
public sealed class CertificateKeyTests
{
    [Theory]
    [InlineData("rsa1024")]
    [InlineData("rsa4160")]
    [InlineData("p521")]
    [InlineData("secp256k1")]
    [InlineData("ed25519")]
    [InlineData("ed448")]
    [InlineData("dsa")]
    public void TryValidate_KeyTypeOrSizeNotAllowed_RejectsAsKeyNotAllowed(string kind)
    {
        var pem = Pem(kind);

        var ok = CertificateValidator.TryValidate(new UploadCertificateRequest(Pem: pem), DateTimeOffset.UtcNow, out _, out var rejection);

        Assert.False(ok);
        Assert.Equal(ErrorCodes.CertificateKeyNotAllowed, rejection!.Code);
        Assert.Equal("pem", rejection.Field);
        Assert.Contains("RSA with 2048 to 4096 bits or ECDSA on P-256 or P-384", rejection.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("rsa2048")]
    [InlineData("rsa4096")]
    [InlineData("p256")]
    [InlineData("p384")]
    public void TryValidate_AllowedKey_Accepts(string kind)
    {
        var ok = CertificateValidator.TryValidate(new UploadCertificateRequest(Pem: Pem(kind)), DateTimeOffset.UtcNow, out var result, out var rejection);

        Assert.True(ok, rejection?.Detail);
        Assert.Equal(["key.example.com"], result!.HostNames);
    }

    [Fact]
    public void TryValidate_PfxWithSmallRsaKey_RejectsAsKeyNotAllowed()
    {
        using var key = RSA.Create(1024);
        using var certificate = SelfSigned(new CertificateRequest("CN=key.example.com", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));

        var ok = CertificateValidator.TryValidate(
            new UploadCertificateRequest(Pfx: Convert.ToBase64String(certificate.Export(X509ContentType.Pfx, "pw")), Password: "pw"),
            DateTimeOffset.UtcNow, out _, out var rejection);

        Assert.False(ok);
        Assert.Equal((ErrorCodes.CertificateKeyNotAllowed, "pfx"), (rejection!.Code, rejection.Field));
    }

    [Fact]
    public void TryValidate_EncryptedEd25519Key_RejectsAsKeyNotAllowedNotAsWrongPassword()
    {
        var (certificatePem, keyPem) = OpenSsl("-newkey ed25519", encrypt: true);

        var ok = CertificateValidator.TryValidate(new UploadCertificateRequest(Pem: certificatePem + keyPem, Password: "secret-pw"), DateTimeOffset.UtcNow, out _, out var rejection);

        Assert.False(ok);
        Assert.Equal(ErrorCodes.CertificateKeyNotAllowed, rejection!.Code);
    }

    [Fact]
    public async Task Upload_SmallRsaKey_Returns400KeyNotAllowed()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var silo = new SiloApp(database);
        var client = silo.OperatorClient();
        await CreateTenantAsync(client, "acme");

        var response = await client.PostAsync(Url("/v1/tenants/acme/certificates"), Json(new { pem = Pem("rsa1024") }));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "certificate_key_not_allowed", "pem");
        Assert.DoesNotContain("PRIVATE KEY", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    // Each kind is made once per test run. Above the ceiling, 4160 bits stands for 8192 and more: an 8192-bit key
    // takes a minute and more to generate on a busy machine, and the check is the same.
    private static readonly Dictionary<string, Lazy<string>> Pems = new()
    {
        ["rsa1024"] = new(() => Rsa(1024)),
        ["rsa2048"] = new(() => Rsa(2048)),
        ["rsa4096"] = new(() => Rsa(4096)),
        ["rsa4160"] = new(() => Rsa(4160)),
        ["p256"] = new(() => Ec(ECCurve.NamedCurves.nistP256)),
        ["p384"] = new(() => Ec(ECCurve.NamedCurves.nistP384)),
        ["p521"] = new(() => Ec(ECCurve.NamedCurves.nistP521)),
        ["secp256k1"] = new(() => Ec(ECCurve.CreateFromFriendlyName("secp256k1"))),
        ["ed25519"] = new(() => Concat(OpenSsl("-newkey ed25519"))),
        ["ed448"] = new(() => Concat(OpenSsl("-newkey ed448"))),
        ["dsa"] = new(() => Concat(OpenSsl("-newkey dsa:{params}"))),
    };

    private static string Pem(string kind) => Pems[kind].Value;

    private static string Rsa(int bits)
    {
        using var key = RSA.Create(bits);
        using var certificate = SelfSigned(new CertificateRequest("CN=key.example.com", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
        return certificate.ExportCertificatePem() + "\n" + key.ExportPkcs8PrivateKeyPem() + "\n";
    }

    private static string Ec(ECCurve curve)
    {
        using var key = ECDsa.Create(curve);
        using var certificate = SelfSigned(new CertificateRequest("CN=key.example.com", key, HashAlgorithmName.SHA256));
        return certificate.ExportCertificatePem() + "\n" + key.ExportPkcs8PrivateKeyPem() + "\n";
    }

    private static X509Certificate2 SelfSigned(CertificateRequest request)
    {
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("key.example.com");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(TestCertificates.ServerAuth)], false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }

    private static string Concat((string Certificate, string Key) pem) => pem.Certificate + pem.Key;

    /// <summary>A self-signed certificate and its PKCS#8 key from <c>openssl req</c>, for key types .NET cannot make.</summary>
    private static (string Certificate, string Key) OpenSsl(string newKey, bool encrypt = false)
    {
        var directory = Directory.CreateTempSubdirectory("keys-");
        try
        {
            var parameters = Path.Combine(directory.FullName, "params.pem");
            if (newKey.Contains("{params}", StringComparison.Ordinal))
            {
                Run($"genpkey -genparam -algorithm DSA -pkeyopt dsa_paramgen_bits:1024 -out {parameters}");
                newKey = newKey.Replace("{params}", parameters, StringComparison.Ordinal);
            }

            var keyPath = Path.Combine(directory.FullName, "key.pem");
            var certificatePath = Path.Combine(directory.FullName, "certificate.pem");
            Run($"req -x509 {newKey} -keyout {keyPath} -out {certificatePath} -days 30 -subj /CN=key.example.com " +
                $"-addext subjectAltName=DNS:key.example.com -addext extendedKeyUsage=serverAuth " +
                (encrypt ? "-passout pass:secret-pw" : "-noenc"));
            return (File.ReadAllText(certificatePath), File.ReadAllText(keyPath));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static void Run(string arguments)
    {
        using var process = Process.Start(new ProcessStartInfo("openssl", arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        var error = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(60_000), "openssl did not finish");
        Assert.True(process.ExitCode == 0, $"openssl {arguments}: {error.Result}");
    }
}
