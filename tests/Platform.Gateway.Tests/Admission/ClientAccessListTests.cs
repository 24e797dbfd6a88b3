using System.Net;
using Platform.Gateway.Admission;

namespace Platform.Gateway.Tests.Admission;

public sealed class ClientAccessListTests
{
    [Theory]
    [InlineData("127.0.0.2", "127.0.0.2", true)]
    [InlineData("127.0.0.2", "127.0.0.3", false)]
    [InlineData("10.*.*.*", "10.9.8.7", true)]
    [InlineData("10.0.0.0/8", "10.200.0.1", true)]
    [InlineData("10.0.0.0/8", "11.0.0.1", false)]
    [InlineData("2001:db8::/32", "2001:db8::1", true)]
    [InlineData("192.168.1.1, 127.0.0.0/30", "127.0.0.3", true)]
    [InlineData("*", "8.8.8.8", true)]
    public void Matches_AddressEntries_MatchAsWritten(string list, string client, bool expected)
    {
        Assert.True(ClientAccessList.TryCompile(list, out var compiled, out _));
        Assert.Equal(expected, compiled.Matches(IPAddress.Parse(client), []));
    }

    [Fact]
    public void Matches_MappedIpv4Client_ComparedAsIpv4()
    {
        Assert.True(ClientAccessList.TryCompile("127.0.0.2", out var compiled, out _));
        Assert.True(compiled.Matches(IPAddress.Parse("127.0.0.2").MapToIPv6(), []));
    }

    [Fact]
    public void Matches_HostNameEntry_OnlyAgainstResolvedNames()
    {
        Assert.True(ClientAccessList.TryCompile("*.example.com", out var compiled, out _));
        Assert.False(compiled.Matches(IPAddress.Parse("192.0.2.1"), []));
        Assert.True(compiled.Matches(IPAddress.Parse("192.0.2.1"), ["host.example.com"]));
        Assert.True(compiled.HasHostNameEntries);
    }

    [Fact]
    public void TryCompile_BadEntry_ReportsIt()
    {
        Assert.False(ClientAccessList.TryCompile("300.1.1.1/99", out _, out var error));
        Assert.Contains("300.1.1.1/99", error, StringComparison.Ordinal);
    }

    [Fact]
    public void TryCompile_EmptyList_IsEmpty()
    {
        Assert.True(ClientAccessList.TryCompile("", out var compiled, out _));
        Assert.True(compiled.IsEmpty);
        Assert.False(compiled.Matches(IPAddress.Loopback, []));
    }
}
