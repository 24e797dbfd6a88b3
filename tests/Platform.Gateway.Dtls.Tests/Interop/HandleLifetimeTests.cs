using System.Text;
using Platform.Gateway.Dtls.Interop;
using Platform.Gateway.Dtls.Tests.Support;

namespace Platform.Gateway.Dtls.Tests.Interop;

public sealed class HandleLifetimeTests
{
    private static readonly TestTenants Pki = new();

    [Fact]
    public void Dispose_Twice_ReleasesOnce()
    {
        var context = SslContextFactory.CreateClientContext("ALL");
        Assert.False(context.IsInvalid);
        context.Dispose();
        context.Dispose();
        Assert.True(context.IsClosed);
    }

    [Fact]
    public void SslNew_ContextHandleDisposedFirst_SslKeepsContextAlive()
    {
        var context = SslContextFactory.CreateBootstrapContext();
        using var ssl = NativeMethods.SSL_new(context);
        Assert.False(ssl.IsInvalid);
        context.Dispose();
        // The SSL object holds its own reference to the context; using it after the handle is gone must work.
        Assert.Equal(1200, NativeMethods.SSL_ctrl(ssl, NativeMethods.SslCtrlSetMtu, 1200, nint.Zero));
    }

    [Fact]
    public void DatagramChannel_SslDisposedAfterChannel_NoDoubleFree()
    {
        using var context = SslContextFactory.CreateClientContext("ALL");
        var ssl = NativeMethods.SSL_new(context);
        var channel = new DatagramChannel();
        channel.AttachTo(ssl);
        // Channel first: the SSL still owns its own reference to the BIO.
        ssl.Dispose();
        channel.Dispose();
        channel.Dispose();
        Assert.True(channel.Bio.IsClosed);
    }

    [Fact]
    public void DatagramChannel_Handshake_WritesClientHelloAsOneDatagram()
    {
        using var context = SslContextFactory.CreateClientContext("ALL");
        using var ssl = NativeMethods.SSL_new(context);
        using var channel = new DatagramChannel();
        channel.AttachTo(ssl);
        NativeMethods.SSL_set_connect_state(ssl);
        NativeMethods.SSL_ctrl(ssl, NativeMethods.SslCtrlSetMtu, 1200, nint.Zero);
        var rc = NativeMethods.SSL_do_handshake(ssl);
        Assert.Equal(NativeMethods.SslErrorWantRead, NativeMethods.SSL_get_error(ssl, rc));
        var datagrams = new List<byte[]>();
        channel.TakeDatagrams(1200, datagrams);
        var hello = Assert.Single(datagrams);
        Assert.Equal(DtlsDatagramKind.InitialClientHello, DtlsRecords.Classify(hello));
        OpenSslError.Clear();
    }

    [Fact]
    public void CreateTenantContext_ValidPem_LoadsChainAndKeyAndNames()
    {
        using var context = SslContextFactory.CreateTenantContext(Pki.BetaPem, Pki.ClientCa.Certificate.ExportCertificatePem(), NativeMethods.SslVerifyPeer, SslContextFactory.DefaultCipherList, new byte[32], out var names);
        Assert.False(context.IsInvalid);
        Assert.Equal(["beta.dtls.test", "*.beta.dtls.test"], names);
    }

    [Fact]
    public void CreateTenantContext_KeyOfAnotherCertificate_ThrowsWithOpenSslReason()
    {
        var alphaKey = Pki.AlphaPem[Pki.AlphaPem.IndexOf("-----BEGIN PRIVATE KEY-----", StringComparison.Ordinal)..];
        var betaCertificates = Pki.BetaPem[..Pki.BetaPem.IndexOf("-----BEGIN PRIVATE KEY-----", StringComparison.Ordinal)];
        var ex = Assert.Throws<OpenSslException>(() => SslContextFactory.CreateTenantContext(betaCertificates + alphaKey, "", 0, SslContextFactory.DefaultCipherList, new byte[32], out _));
        Assert.Contains("SSL_CTX", ex.Message, StringComparison.Ordinal);
        Assert.Contains("error:", ex.Message, StringComparison.Ordinal);
        Assert.NotEqual(0UL, ex.ErrorCode);
    }

    [Fact]
    public void ReadCertificates_CorruptBase64_ThrowsAndLeavesQueueEmpty()
    {
        const string pem = "-----BEGIN CERTIFICATE-----\nnot base64 at all!!\n-----END CERTIFICATE-----\n";
        var ex = Assert.Throws<OpenSslException>(() => Pem.ReadCertificates(pem));
        Assert.Contains("PEM_read_bio_X509", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0UL, NativeMethods.ERR_get_error());
    }

    [Fact]
    public void ReadPrivateKey_EncryptedKey_RefusedWithoutPrompt()
    {
        const string pem = "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n";
        Assert.Throws<OpenSslException>(() => Pem.ReadPrivateKey(pem));
    }

    [Fact]
    public void ReadCertificates_NoCertificate_Throws()
    {
        Assert.Throws<OpenSslException>(() => Pem.ReadCertificates(Encoding.ASCII.GetString(new byte[16])));
    }

    [Fact]
    public void CipherList_IanaNames_MapsToOpenSslNames()
    {
        Assert.Equal("ECDHE-PSK-AES128-CBC-SHA256:PSK-AES128-CCM8", SslContextFactory.CipherList(["TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256", "TLS_PSK_WITH_AES_128_CCM_8", "TLS_NOT_A_SUITE"]));
        Assert.Equal(SslContextFactory.DefaultCipherList, SslContextFactory.CipherList([]));
    }
}
