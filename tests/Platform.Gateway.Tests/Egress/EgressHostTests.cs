using System.Net;
using Platform.Contracts.Egress;

namespace Platform.Gateway.Tests.Egress;

/// <summary><see cref="EgressHost"/>: every numeric spelling a resolver would accept becomes the address it spells.</summary>
public sealed class EgressHostTests
{
    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1")]
    [InlineData("127.1", "127.0.0.1")]
    [InlineData("127.0.1", "127.0.0.1")]
    [InlineData("0x7f.1", "127.0.0.1")]
    [InlineData("0X7F.0.0.0x1", "127.0.0.1")]
    [InlineData("0177.0.0.1", "127.0.0.1")]
    [InlineData("0x7f000001", "127.0.0.1")]
    [InlineData("017700000001", "127.0.0.1")]
    [InlineData("2130706433", "127.0.0.1")]
    [InlineData("127.0.0.1.", "127.0.0.1")]
    [InlineData("2852039166", "169.254.169.254")]
    [InlineData("0xA9FEA9FE", "169.254.169.254")]
    [InlineData("0251.0376.0251.0376", "169.254.169.254")]
    [InlineData("169.16689662", "169.254.169.254")]
    [InlineData("0", "0.0.0.0")]
    [InlineData("10.0.0.1", "10.0.0.1")]
    [InlineData("::1", "::1")]
    [InlineData("[::1]", "::1")]
    [InlineData("0:0:0:0:0:0:0:1", "::1")]
    [InlineData("::ffff:127.0.0.1", "::ffff:127.0.0.1")]
    [InlineData("[::ffff:7f00:1]", "::ffff:127.0.0.1")]
    [InlineData("64:ff9b::7f00:1", "64:ff9b::7f00:1")]
    [InlineData("FD00:EC2::254", "fd00:ec2::254")]
    public void Parse_NumericForms_TheAddressTheySpell(string host, string expected)
    {
        var parsed = EgressHost.Parse(host);

        Assert.Equal(EgressHostKind.Address, parsed.Kind);
        Assert.Equal(IPAddress.Parse(expected), parsed.Address);
    }

    [Theory]
    [InlineData("fe80::1%2", 2u)]
    [InlineData("[fe80::1%7]", 7u)]
    public void Parse_ZoneId_KeptAsScope(string host, uint scope)
    {
        var parsed = EgressHost.Parse(host);

        Assert.Equal(EgressHostKind.Address, parsed.Kind);
        Assert.Equal(scope, (uint)parsed.Address!.ScopeId);
        Assert.Equal(IPAddress.Parse("fe80::1").GetAddressBytes(), parsed.Address.GetAddressBytes());
    }

    [Fact]
    public void Parse_NamedZoneId_StillTheLinkLocalAddress()
    {
        var parsed = EgressHost.Parse("fe80::1%eth0");

        Assert.Equal(EgressHostKind.Address, parsed.Kind);
        Assert.Equal(EgressAddressClass.LinkLocal, EgressPolicy.Classify(parsed.Address!));
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("LOCALHOST")]
    [InlineData("localhost.")]
    [InlineData("db.localhost")]
    [InlineData("A.B.LocalHost.")]
    public void Parse_LocalhostNames_LoopbackWithoutDns(string host)
    {
        var parsed = EgressHost.Parse(host);

        Assert.Equal(EgressHostKind.LoopbackName, parsed.Kind);
        Assert.Equal([IPAddress.Loopback, IPAddress.IPv6Loopback], parsed.LiteralAddresses);
    }

    [Theory]
    [InlineData("backend.example.com", "backend.example.com")]
    [InlineData("Backend.Example.COM.", "backend.example.com")]
    [InlineData("db", "db")]
    [InlineData("_svc.backend.example", "_svc.backend.example")]
    [InlineData("127.0.0.1.nip.io", "127.0.0.1.nip.io")]
    [InlineData("localhost.example.com", "localhost.example.com")]
    public void Parse_Names_LowerCaseWithoutTrailingDot(string host, string expected)
    {
        var parsed = EgressHost.Parse(host);

        Assert.Equal(EgressHostKind.Name, parsed.Kind);
        Assert.Equal(expected, parsed.Name);
        Assert.Empty(parsed.LiteralAddresses);
    }

    [Theory]
    [InlineData("1.2.3.999")]
    [InlineData("256.0.0.1")]
    [InlineData("1.2.3.4.5")]
    [InlineData("1.2.3.09")]
    [InlineData("1.2.65536")]
    [InlineData("4294967296")]
    [InlineData("0x100000000")]
    [InlineData("999999999999999999999999999")]
    [InlineData("example.123")]
    [InlineData("example.0x1f")]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("a..b")]
    [InlineData("exa mple.com")]
    [InlineData("127.0.0.1:80")]
    [InlineData("[::1")]
    [InlineData("[127.0.0.1]")]
    [InlineData("::ffff:0x7f.1")]
    [InlineData("fe80::1%")]
    [InlineData("fe80::1%a/b")]
    [InlineData("bücher.example")]
    [InlineData("%31%32%37.0.0.1")]
    public void Parse_NotAnAddressAndNotAName_Invalid(string host)
    {
        Assert.Equal(EgressHostKind.Invalid, EgressHost.Parse(host).Kind);
    }
}
