using System.Net;

namespace Platform.Gateway.Dtls.Tests;

public sealed class DtlsSourcePrefixTests
{
    [Theory]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff")]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2:8000::7")]
    [InlineData("fe80::1", "fe80::abcd:1234")]
    public void Of_TwoIPv6AddressesOfOneSlash64_SameKey(string first, string second)
    {
        var a = DtlsSourcePrefix.Of(IPAddress.Parse(first));
        var b = DtlsSourcePrefix.Of(IPAddress.Parse(second));

        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.True(a.IsIPv6);
    }

    [Theory]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:3::1")]
    [InlineData("2001:db8:1:2::1", "2001:db9:1:2::1")]
    [InlineData("127.0.0.2", "127.0.0.3")]
    [InlineData("10.0.0.1", "::ffff:10.0.0.2")]
    [InlineData("0.0.0.1", "::1")]
    public void Of_DifferentPrefixes_DifferentKeys(string first, string second) =>
        Assert.NotEqual(DtlsSourcePrefix.Of(IPAddress.Parse(first)), DtlsSourcePrefix.Of(IPAddress.Parse(second)));

    [Fact]
    public void Of_IPv4MappedIPv6_SameKeyAsTheIPv4Address()
    {
        var mapped = DtlsSourcePrefix.Of(IPAddress.Parse("::ffff:192.0.2.7"));

        Assert.Equal(DtlsSourcePrefix.Of(IPAddress.Parse("192.0.2.7")), mapped);
        Assert.False(mapped.IsIPv6);
    }

    [Theory]
    [InlineData("192.0.2.7", "192.0.2.7/32")]
    [InlineData("::ffff:192.0.2.7", "192.0.2.7/32")]
    [InlineData("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64")]
    [InlineData("::1", "::/64")]
    public void ToString_NamesThePrefix(string address, string expected) =>
        Assert.Equal(expected, DtlsSourcePrefix.Of(IPAddress.Parse(address)).ToString());
}
