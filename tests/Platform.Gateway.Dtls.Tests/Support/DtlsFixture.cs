using System.Net;
using Platform.Gateway.Dtls.Tenants;

namespace Platform.Gateway.Dtls.Tests.Support;

/// <summary>Two tenants with certificates, PSKs and a client CA, shared by the tests of one class.</summary>
internal sealed class TestTenants
{
    public static readonly byte[] AlphaKey = Convert.FromHexString("00112233445566778899AABBCCDDEEFF");
    public static readonly byte[] BetaKey = Convert.FromHexString("FFEEDDCCBBAA99887766554433221100");

    public TestTenants()
    {
        Ca = TestPki.CreateCa("Test Server CA");
        ClientCa = TestPki.CreateCa("Test Client CA");
        AlphaPem = TestPki.CreateServerPem(Ca, "alpha.dtls.test", rsa: false, "alpha.dtls.test");
        BetaPem = TestPki.CreateServerPem(Ca, "beta.dtls.test", rsa: false, "beta.dtls.test", "*.beta.dtls.test");
        Client = TestPki.CreateClient(ClientCa, "device-7");
    }

    public (System.Security.Cryptography.X509Certificates.X509Certificate2 Certificate, System.Security.Cryptography.AsymmetricAlgorithm Key) Ca { get; }

    public (System.Security.Cryptography.X509Certificates.X509Certificate2 Certificate, System.Security.Cryptography.AsymmetricAlgorithm Key) ClientCa { get; }

    public string AlphaPem { get; }

    public string BetaPem { get; }

    public (string CertificatePem, string KeyPem, string Sha256) Client { get; }

    public DtlsTenantSettings Alpha(Func<DtlsTenantSettings, DtlsTenantSettings>? change = null)
    {
        var settings = new DtlsTenantSettings
        {
            TenantId = "t-alpha",
            Slug = "alpha",
            CertificatePems = [AlphaPem],
            PreSharedKeys = new Dictionary<string, byte[]> { ["dev1"] = AlphaKey },
        };
        return change?.Invoke(settings) ?? settings;
    }

    public DtlsTenantSettings Beta(Func<DtlsTenantSettings, DtlsTenantSettings>? change = null)
    {
        var settings = new DtlsTenantSettings
        {
            TenantId = "t-beta",
            Slug = "beta",
            CertificatePems = [BetaPem],
            PreSharedKeys = new Dictionary<string, byte[]> { ["dev1"] = BetaKey },
        };
        return change?.Invoke(settings) ?? settings;
    }

    public DtlsTenantDirectory Directory(params DtlsTenantSettings[] tenants)
    {
        var errors = new List<KeyValuePair<string, string>>();
        var directory = DtlsTenantDirectory.Build(tenants.Length == 0 ? [Alpha(), Beta()] : tenants, errors);
        Assert.Empty(errors);
        return directory;
    }

    public static DtlsServer StartServer(DtlsTenantDirectory directory, IDtlsSessionHandler handler, Action<DtlsServerOptions>? configure = null, TestLogger? logger = null)
    {
        var options = new DtlsServerOptions { LocalEndPoint = new IPEndPoint(IPAddress.Loopback, 0) };
        configure?.Invoke(options);
        var server = new DtlsServer(options, directory, handler, logger);
        server.Start();
        return server;
    }
}
