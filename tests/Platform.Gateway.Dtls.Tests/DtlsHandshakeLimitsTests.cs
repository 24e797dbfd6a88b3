using System.Net;

namespace Platform.Gateway.Dtls.Tests;

/// <summary>The half-open caps' bookkeeping, with IPv6 sources the loopback interface cannot provide.</summary>
public sealed class DtlsHandshakeLimitsTests
{
    private static readonly DtlsSourcePrefix HostA1 = Prefix("2001:db8:aa:1::1");
    private static readonly DtlsSourcePrefix HostA2 = Prefix("2001:db8:aa:1:ffff:0:0:2");
    private static readonly DtlsSourcePrefix HostB = Prefix("2001:db8:aa:2::1");

    [Fact]
    public void TryBegin_TwoIPv6AddressesOfOneSlash64_ShareThePerSourceCap()
    {
        var limits = new DtlsHandshakeLimits(maxPerSource: 2, maxUnassigned: 100);

        Assert.NotNull(limits.TryBegin(HostA1, out _));
        Assert.NotNull(limits.TryBegin(HostA2, out _));
        var third = limits.TryBegin(HostA1, out var refusal);

        Assert.Null(third);
        Assert.Equal(DtlsHandshakeLimits.Refusal.SourceLimit, refusal);
        Assert.Null(limits.TryBegin(HostA2, out _));
        Assert.NotNull(limits.TryBegin(HostB, out _));
        Assert.Equal(2, limits.FromSource(HostA1));
        Assert.Equal(3, limits.Unassigned);
    }

    [Fact]
    public void TryBegin_UnassignedCapReached_RefusesEverySourceUntilOneIsReleasedOrAssigned()
    {
        var limits = new DtlsHandshakeLimits(maxPerSource: 100, maxUnassigned: 2);
        var first = limits.TryBegin(Prefix("192.0.2.1"), out _)!;
        var second = limits.TryBegin(Prefix("192.0.2.2"), out _)!;

        Assert.Null(limits.TryBegin(Prefix("198.51.100.1"), out var refusal));
        Assert.Equal(DtlsHandshakeLimits.Refusal.UnassignedLimit, refusal);
        Assert.Null(limits.TryBegin(HostB, out _));

        limits.Release(first);
        Assert.NotNull(limits.TryBegin(Prefix("198.51.100.1"), out _));
        Assert.True(limits.TryAssign(second, "t-a", maxForTenant: 10, maxForTenantSource: 10));
        Assert.NotNull(limits.TryBegin(HostB, out _));
        Assert.Equal(2, limits.Unassigned);
    }

    [Fact]
    public void TryAssign_TwoIPv6AddressesOfOneSlash64_ShareTheTenantsPerClientCap()
    {
        var limits = new DtlsHandshakeLimits(maxPerSource: 100, maxUnassigned: 100);
        var a1 = limits.TryBegin(HostA1, out _)!;
        var a2 = limits.TryBegin(HostA2, out _)!;
        var b = limits.TryBegin(HostB, out _)!;

        Assert.True(limits.TryAssign(a1, "t-a", maxForTenant: 10, maxForTenantSource: 1));
        Assert.False(limits.TryAssign(a2, "t-a", maxForTenant: 10, maxForTenantSource: 1));
        Assert.True(limits.TryAssign(b, "t-a", maxForTenant: 10, maxForTenantSource: 1));
        // Another tenant's per-client count for the same /64 is its own.
        Assert.True(limits.TryAssign(a2, "t-b", maxForTenant: 10, maxForTenantSource: 1));

        Assert.Equal(1, limits.ForTenantFromSource("t-a", HostA2));
        Assert.Equal(2, limits.ForTenant("t-a"));
        Assert.Equal(0, limits.Unassigned);
    }

    [Fact]
    public void TryAssign_TenantCapReached_RefusedAndStillUnassigned()
    {
        var limits = new DtlsHandshakeLimits(maxPerSource: 100, maxUnassigned: 100);
        var first = limits.TryBegin(Prefix("192.0.2.1"), out _)!;
        var second = limits.TryBegin(Prefix("192.0.2.2"), out _)!;

        Assert.True(limits.TryAssign(first, "t-a", maxForTenant: 1, maxForTenantSource: 10));
        Assert.False(limits.TryAssign(second, "t-a", maxForTenant: 1, maxForTenantSource: 10));

        Assert.Null(second.TenantId);
        Assert.Equal(1, limits.Unassigned);
        Assert.Equal(1, limits.ForTenant("t-a"));
    }

    [Fact]
    public void Unassign_AfterADeferral_BackToUnassignedAndTheTenantSlotFree()
    {
        var limits = new DtlsHandshakeLimits(maxPerSource: 100, maxUnassigned: 100);
        var slot = limits.TryBegin(HostA1, out _)!;
        Assert.True(limits.TryAssign(slot, "t-a", maxForTenant: 1, maxForTenantSource: 1));

        limits.Unassign(slot);

        Assert.Equal(0, limits.ForTenant("t-a"));
        Assert.Equal(0, limits.ForTenantFromSource("t-a", HostA1));
        Assert.Equal(1, limits.Unassigned);
        Assert.True(limits.TryAssign(slot, "t-a", maxForTenant: 1, maxForTenantSource: 1));
    }

    [Fact]
    public void Release_Twice_GivesBackOnce()
    {
        var limits = new DtlsHandshakeLimits(maxPerSource: 100, maxUnassigned: 100);
        var assigned = limits.TryBegin(HostA1, out _)!;
        var unassigned = limits.TryBegin(HostA2, out _)!;
        Assert.True(limits.TryAssign(assigned, "t-a", maxForTenant: 10, maxForTenantSource: 10));

        limits.Release(assigned);
        limits.Release(assigned);
        limits.Release(unassigned);
        limits.Release(unassigned);

        Assert.Equal(0, limits.FromSource(HostA1));
        Assert.Equal(0, limits.ForTenant("t-a"));
        Assert.Equal(0, limits.Unassigned);
        Assert.False(limits.TryAssign(assigned, "t-a", maxForTenant: 10, maxForTenantSource: 10));
    }

    private static DtlsSourcePrefix Prefix(string address) => DtlsSourcePrefix.Of(IPAddress.Parse(address));
}
