using System.Net;
using Platform.Contracts.Egress;

namespace Platform.Gateway.Tests.Egress;

/// <summary><see cref="EgressPolicy"/>: the classes refused by default, and what the operator's ranges change.</summary>
public sealed class EgressPolicyTests
{
    [Theory]
    [InlineData("0.0.0.0", EgressAddressClass.Unspecified)]
    [InlineData("0.1.2.3", EgressAddressClass.ThisNetwork)]
    [InlineData("127.0.0.1", EgressAddressClass.Loopback)]
    [InlineData("127.255.255.254", EgressAddressClass.Loopback)]
    [InlineData("10.1.2.3", EgressAddressClass.Private)]
    [InlineData("172.16.0.1", EgressAddressClass.Private)]
    [InlineData("172.31.255.255", EgressAddressClass.Private)]
    [InlineData("192.168.1.1", EgressAddressClass.Private)]
    [InlineData("100.64.0.1", EgressAddressClass.SharedAddressSpace)]
    [InlineData("100.127.255.255", EgressAddressClass.SharedAddressSpace)]
    [InlineData("169.254.169.254", EgressAddressClass.LinkLocal)]
    [InlineData("169.254.0.1", EgressAddressClass.LinkLocal)]
    [InlineData("192.0.0.8", EgressAddressClass.ProtocolAssignments)]
    [InlineData("192.0.0.170", EgressAddressClass.ProtocolAssignments)]
    [InlineData("192.0.2.1", EgressAddressClass.Documentation)]
    [InlineData("198.51.100.7", EgressAddressClass.Documentation)]
    [InlineData("203.0.113.9", EgressAddressClass.Documentation)]
    [InlineData("198.18.0.1", EgressAddressClass.Benchmarking)]
    [InlineData("198.19.255.255", EgressAddressClass.Benchmarking)]
    [InlineData("224.0.0.1", EgressAddressClass.Multicast)]
    [InlineData("239.255.255.250", EgressAddressClass.Multicast)]
    [InlineData("255.255.255.255", EgressAddressClass.Broadcast)]
    [InlineData("240.0.0.1", EgressAddressClass.Reserved)]
    [InlineData("192.88.99.1", EgressAddressClass.Reserved)]
    [InlineData("::", EgressAddressClass.Unspecified)]
    [InlineData("::1", EgressAddressClass.Loopback)]
    [InlineData("::ffff:127.0.0.1", EgressAddressClass.Loopback)]
    [InlineData("::ffff:169.254.169.254", EgressAddressClass.LinkLocal)]
    [InlineData("::ffff:10.0.0.1", EgressAddressClass.Private)]
    [InlineData("::ffff:0.0.0.0", EgressAddressClass.Unspecified)]
    [InlineData("::127.0.0.1", EgressAddressClass.Loopback)]
    [InlineData("::10.0.0.1", EgressAddressClass.Private)]
    [InlineData("64:ff9b::7f00:1", EgressAddressClass.Loopback)]
    [InlineData("64:ff9b::a9fe:a9fe", EgressAddressClass.LinkLocal)]
    [InlineData("64:ff9b:1::1", EgressAddressClass.Reserved)]
    [InlineData("2002:7f00:1::", EgressAddressClass.Loopback)]
    [InlineData("2002:a9fe:a9fe::1", EgressAddressClass.LinkLocal)]
    [InlineData("2002:c0a8:101::", EgressAddressClass.Private)]
    [InlineData("2001:0:4136:e378:8000:63bf:80ff:fffe", EgressAddressClass.Loopback)]
    [InlineData("fc00::1", EgressAddressClass.UniqueLocal)]
    [InlineData("fd00:ec2::254", EgressAddressClass.UniqueLocal)]
    [InlineData("fe80::1", EgressAddressClass.LinkLocal)]
    [InlineData("febf::1", EgressAddressClass.LinkLocal)]
    [InlineData("fec0::1", EgressAddressClass.SiteLocal)]
    [InlineData("ff02::1", EgressAddressClass.Multicast)]
    [InlineData("2001:db8::1", EgressAddressClass.Documentation)]
    [InlineData("3fff::1", EgressAddressClass.Documentation)]
    [InlineData("2001:2::1", EgressAddressClass.Benchmarking)]
    [InlineData("2001:10::1", EgressAddressClass.Reserved)]
    [InlineData("2001:20::1", EgressAddressClass.Reserved)]
    [InlineData("100::1", EgressAddressClass.Reserved)]
    [InlineData("5f00::1", EgressAddressClass.Reserved)]
    [InlineData("4000::1", EgressAddressClass.Reserved)]
    public void Evaluate_DefaultPolicy_RefusesEveryNonPublicClass(string address, EgressAddressClass expected)
    {
        var verdict = EgressPolicy.Default.Evaluate(IPAddress.Parse(address));

        Assert.Equal(expected, verdict.Class);
        Assert.False(verdict.Allowed);
    }

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("1.1.1.1")]
    [InlineData("172.32.0.1")]
    [InlineData("100.128.0.1")]
    [InlineData("192.0.1.1")]
    [InlineData("198.20.0.1")]
    [InlineData("223.255.255.255")]
    [InlineData("::ffff:8.8.8.8")]
    [InlineData("64:ff9b::808:808")]
    [InlineData("2002:808:808::1")]
    [InlineData("2606:4700:4700::1111")]
    [InlineData("2a00:1450:4001:800::200e")]
    public void Evaluate_PublicAddresses_Allowed(string address)
    {
        var verdict = EgressPolicy.Default.Evaluate(IPAddress.Parse(address));

        Assert.Equal(new EgressVerdict(true, EgressAddressClass.Public, EgressVerdictReason.Public), verdict);
    }

    [Fact]
    public void Evaluate_AllowedRange_ReallowsItsAddressesInEveryForm_AndNothingElse()
    {
        var policy = Policy(allowed: ["127.0.0.0/8"]);

        Assert.Equal(new EgressVerdict(true, EgressAddressClass.Loopback, EgressVerdictReason.AllowedRange), policy.Evaluate(IPAddress.Parse("127.0.0.1")));
        Assert.True(policy.Evaluate(IPAddress.Parse("::ffff:127.0.0.2")).Allowed);
        Assert.True(policy.Evaluate(IPAddress.Parse("64:ff9b::7f00:1")).Allowed);
        Assert.False(policy.Evaluate(IPAddress.Parse("::1")).Allowed);
        Assert.False(policy.Evaluate(IPAddress.Parse("10.0.0.1")).Allowed);
        Assert.False(policy.Evaluate(IPAddress.Parse("169.254.169.254")).Allowed);
    }

    [Theory]
    [InlineData("0.0.0.0", EgressAddressClass.Unspecified)]
    [InlineData("::", EgressAddressClass.Unspecified)]
    [InlineData("::ffff:0.0.0.0", EgressAddressClass.Unspecified)]
    [InlineData("224.0.0.251", EgressAddressClass.Multicast)]
    [InlineData("ff02::fb", EgressAddressClass.Multicast)]
    [InlineData("255.255.255.255", EgressAddressClass.Broadcast)]
    public void Evaluate_EverythingAllowed_UnspecifiedMulticastBroadcastStillRefused(string address, EgressAddressClass expected)
    {
        var policy = Policy(allowed: ["0.0.0.0/0", "::/0"]);

        Assert.Equal(new EgressVerdict(false, expected, EgressVerdictReason.NeverAllowed), policy.Evaluate(IPAddress.Parse(address)));
        Assert.True(policy.Evaluate(IPAddress.Parse("10.0.0.1")).Allowed);
        Assert.True(policy.Evaluate(IPAddress.Parse("fe80::1")).Allowed);
    }

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("::ffff:8.8.8.8")]
    [InlineData("64:ff9b::808:808")]
    [InlineData("2002:808:808::")]
    public void Evaluate_DeniedRange_WinsOverPublicInEveryForm(string address)
    {
        var policy = Policy(denied: ["8.8.8.0/24"]);

        Assert.Equal(EgressVerdictReason.DeniedRange, policy.Evaluate(IPAddress.Parse(address)).Reason);
        Assert.False(policy.Evaluate(IPAddress.Parse(address)).Allowed);
        Assert.True(policy.Evaluate(IPAddress.Parse("8.8.4.4")).Allowed);
    }

    [Fact]
    public void Evaluate_DeniedRangeInsideAllowedRange_DeniedWins()
    {
        var policy = Policy(allowed: ["10.0.0.0/8"], denied: ["10.1.0.0/16"]);

        Assert.True(policy.Evaluate(IPAddress.Parse("10.2.0.1")).Allowed);
        Assert.Equal(new EgressVerdict(false, EgressAddressClass.Private, EgressVerdictReason.DeniedRange), policy.Evaluate(IPAddress.Parse("10.1.2.3")));
    }

    [Fact]
    public void Evaluate_ScopedLinkLocal_MatchedWithoutItsZone()
    {
        var policy = Policy(allowed: ["fe80::/10"]);
        var scoped = IPAddress.Parse("fe80::1");
        scoped.ScopeId = 3;

        Assert.True(policy.Evaluate(scoped).Allowed);
        Assert.False(EgressPolicy.Default.Evaluate(scoped).Allowed);
    }

    [Fact]
    public void EvaluateHost_LoopbackName_RefusedUnlessOneLoopbackAddressIsAllowed_NamesUndecided()
    {
        Assert.Equal(EgressAddressClass.Loopback, EgressPolicy.Default.Evaluate(EgressHost.Parse("localhost"))!.Value.Class);
        Assert.False(EgressPolicy.Default.Evaluate(EgressHost.Parse("localhost"))!.Value.Allowed);
        Assert.True(Policy(allowed: ["::1/128"]).Evaluate(EgressHost.Parse("db.localhost"))!.Value.Allowed);
        Assert.False(EgressPolicy.Default.Evaluate(EgressHost.Parse("0x7f.1"))!.Value.Allowed);
        Assert.Null(EgressPolicy.Default.Evaluate(EgressHost.Parse("backend.example.com")));
        Assert.Null(EgressPolicy.Default.Evaluate(EgressHost.Parse("1.2.3.999")));
    }

    [Fact]
    public void IsInAllowedRanges_OnlyTheOperatorsRanges()
    {
        var policy = Policy(allowed: ["203.0.113.0/24"]);

        Assert.True(policy.IsInAllowedRanges(IPAddress.Parse("203.0.113.5")));
        Assert.True(policy.IsInAllowedRanges(IPAddress.Parse("::ffff:203.0.113.5")));
        Assert.False(policy.IsInAllowedRanges(IPAddress.Parse("8.8.8.8")));
    }

    [Theory]
    [InlineData("10.0.0.0/8", "10.0.0.0/8")]
    [InlineData(" 192.168.1.5 ", "192.168.1.5/32")]
    [InlineData("::1", "::1/128")]
    [InlineData("fe80::/10", "fe80::/10")]
    [InlineData("0.0.0.0/0", "0.0.0.0/0")]
    public void TryParseRange_Valid(string text, string expected)
    {
        Assert.True(EgressPolicy.TryParseRange(text, out var range, out var error), error);
        Assert.Equal(IPNetwork.Parse(expected), range);
    }

    [Theory]
    [InlineData("10.1.2.3/8", "did you mean 10.0.0.0/8")]
    [InlineData("10.1/16", "four decimal numbers")]
    [InlineData("010.0.0.0/8", "four decimal numbers")]
    [InlineData("0x7f.0.0.0/8", "four decimal numbers")]
    [InlineData("10.0.0.0/33", "0..32")]
    [InlineData("10.0.0.0/-1", "0..32")]
    [InlineData("fe80::1%eth0/128", "not an address")]
    [InlineData("example.com", "not an address")]
    [InlineData("", "empty")]
    public void TryParseRange_Invalid_ExplainsWhy(string text, string because)
    {
        Assert.False(EgressPolicy.TryParseRange(text, out _, out var error));
        Assert.Contains(because, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_CommaSeparatedEntriesAndEmptyOnes_AllRangesUsed()
    {
        var policy = new EgressOptions { AllowedRanges = ["127.0.0.0/8, ::1", "", "10.0.0.0/8"] }.ToPolicy();

        Assert.Equal(3, policy.AllowedRanges.Count);
        Assert.True(policy.Evaluate(IPAddress.IPv6Loopback).Allowed);
    }

    [Fact]
    public void Options_BadEntry_ErrorNamesTheSetting()
    {
        var options = new EgressOptions { AllowedRanges = ["127.0.0.0/8"], DeniedRanges = ["8.8.8.8/8"] };

        var error = Assert.Single(options.Validate());
        Assert.StartsWith("Platform:Egress:DeniedRanges: '8.8.8.8/8'", error, StringComparison.Ordinal);
        Assert.Contains("8.0.0.0/8", Assert.Throws<InvalidOperationException>(options.ToPolicy).Message, StringComparison.Ordinal);
    }

    private static EgressPolicy Policy(string[]? allowed = null, string[]? denied = null) =>
        new EgressOptions { AllowedRanges = [.. allowed ?? []], DeniedRanges = [.. denied ?? []] }.ToPolicy();
}
