using System.Net;
using System.Text;
using Platform.Contracts.Connections;
using Platform.Gateway.Delivery;
using Platform.Gateway.Tests.Support;

namespace Platform.Gateway.Tests.Delivery;

/// <summary><see cref="ProxyProtocolHeader"/> read back by a parser written from the specification.</summary>
public sealed class ProxyProtocolHeaderTests
{
    [Fact]
    public void Build_DtlsClientWithPsk_UdpOverIPv4WithDtlsVersionAndPskIdentity()
    {
        var facts = new ConnectionFacts("gw-1.2a", ConnectionProtocols.Dtls, IPEndPoint.Parse("198.51.100.7:40001"), IPEndPoint.Parse("192.0.2.1:5684"),
            "acme.platform.test", new TlsFacts("acme.platform.test", "DTLSv1.2", "ECDHE-PSK-AES128-CBC-SHA256", null, null, null, null, "acme/dev1"));

        var header = ProxyV2Header.Parse(ProxyProtocolHeader.Build(facts, datagram: true));

        Assert.Equal((1, 1, 2), (header.Command, header.Family, header.Transport));
        Assert.Equal(IPEndPoint.Parse("198.51.100.7:40001"), header.Source);
        Assert.Equal(IPEndPoint.Parse("192.0.2.1:5684"), header.Destination);
        Assert.Equal("acme.platform.test", header.Text(0x02));
        Assert.Equal("gw-1.2a", header.Text(0x05));
        Assert.Equal("dtls", header.Text(0xE0));
        Assert.Equal("acme/dev1", header.Text(0xE3));
        Assert.Null(header.Text(0xE1));
        var ssl = header.Ssl!;
        Assert.Equal(0x01, ssl.Client);
        Assert.NotEqual(0u, ssl.Verify);
        Assert.Equal("DTLSv1.2", ssl.Text(0x21));
        Assert.Equal("ECDHE-PSK-AES128-CBC-SHA256", ssl.Text(0x23));
        Assert.Null(ssl.Text(0x22));
    }

    [Fact]
    public void Build_TlsClientWithCertificate_FlagsVerifiedCnFingerprintAndSubject()
    {
        var facts = new ConnectionFacts("gw-1.2b", ConnectionProtocols.Tls, IPEndPoint.Parse("203.0.113.5:50000"), IPEndPoint.Parse("192.0.2.1:7443"),
            "acme.platform.test", new TlsFacts("acme.platform.test", "TLSv1.3", "TLS_AES_256_GCM_SHA384", "CN=device-17, O=Acme, C=DE", "CN=Acme CA", "AB12CD", true, null));

        var header = ProxyV2Header.Parse(ProxyProtocolHeader.Build(facts, datagram: false));

        Assert.Equal((1, 1, 1), (header.Command, header.Family, header.Transport));
        var ssl = header.Ssl!;
        Assert.Equal(0x03, ssl.Client);
        Assert.Equal(0u, ssl.Verify);
        Assert.Equal("TLSv1.3", ssl.Text(0x21));
        Assert.Equal("device-17", ssl.Text(0x22));
        Assert.Equal("TLS_AES_256_GCM_SHA384", ssl.Text(0x23));
        Assert.Equal("ab12cd", header.Text(0xE1));
        Assert.Equal("CN=device-17, O=Acme, C=DE", header.Text(0xE2));
        Assert.Equal("tls", header.Text(0xE0));
    }

    [Fact]
    public void Build_IPv6ClientOnIPv4Listener_BothAddressesAsIPv6()
    {
        var facts = new ConnectionFacts("gw-1.1", ConnectionProtocols.Ws, IPEndPoint.Parse("[2001:db8::7]:40000"), IPEndPoint.Parse("192.0.2.1:8080"), null, null);

        var header = ProxyV2Header.Parse(ProxyProtocolHeader.Build(facts, datagram: false));

        Assert.Equal((2, 1), (header.Family, header.Transport));
        Assert.Equal(IPEndPoint.Parse("[2001:db8::7]:40000"), header.Source);
        Assert.Equal(IPEndPoint.Parse("[::ffff:192.0.2.1]:8080"), header.Destination);
        Assert.Null(header.Ssl);
        Assert.Null(header.Text(0x02));
    }

    [Fact]
    public void Build_IPv4MappedEndpoints_SentAsIPv4()
    {
        var facts = new ConnectionFacts("gw-1.1", ConnectionProtocols.Tcp, IPEndPoint.Parse("[::ffff:198.51.100.9]:4000"), IPEndPoint.Parse("[::ffff:192.0.2.1]:20001"), null, null);

        var header = ProxyV2Header.Parse(ProxyProtocolHeader.Build(facts, datagram: false));

        Assert.Equal(1, header.Family);
        Assert.Equal(IPEndPoint.Parse("198.51.100.9:4000"), header.Source);
        Assert.Equal(IPEndPoint.Parse("192.0.2.1:20001"), header.Destination);
    }

    [Theory]
    [InlineData("acme.platform.test:8080", "acme.platform.test")]
    [InlineData("acme.platform.test", "acme.platform.test")]
    [InlineData("[::1]:8080", "::1")]
    [InlineData("[::1]", "::1")]
    public void Build_HostHeader_AuthorityWithoutPort(string host, string expected)
    {
        var facts = new ConnectionFacts("gw-1.1", ConnectionProtocols.Ws, IPEndPoint.Parse("127.0.0.1:4000"), IPEndPoint.Parse("127.0.0.1:8080"), host, null);

        Assert.Equal(expected, ProxyV2Header.Parse(ProxyProtocolHeader.Build(facts, datagram: false)).Text(0x02));
    }

    [Fact]
    public void Build_OversizedValues_LeftOutWholeAndTheHeaderStillParses()
    {
        var subject = "CN=device, O=" + new string('x', 5000);
        var facts = new ConnectionFacts("gw-1.1", ConnectionProtocols.Wss, IPEndPoint.Parse("127.0.0.1:4000"), IPEndPoint.Parse("127.0.0.1:8443"),
            new string('h', 3000), new TlsFacts(null, "TLSv1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", subject, "CN=CA", "ff", true, null));

        var header = ProxyV2Header.Parse(ProxyProtocolHeader.Build(facts, datagram: false));

        Assert.Null(header.Text(0x02));
        Assert.Null(header.Text(0xE2));
        Assert.Equal("ff", header.Text(0xE1));
        Assert.Equal("device", header.Ssl!.Text(0x22));
        Assert.Equal("TLSv1.2", header.Ssl.Text(0x21));
        Assert.Equal(Encoding.UTF8.GetBytes("wss"), header.Tlvs.Single(t => t.Type == 0xE0).Value);
    }
}
