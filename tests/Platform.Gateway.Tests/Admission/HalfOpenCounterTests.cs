using System.Net;
using Microsoft.Extensions.Options;
using Platform.Contracts.Config;
using Platform.Gateway.Admission;
using Platform.Gateway.Hosting;
using Platform.Gateway.Tests.Support;

namespace Platform.Gateway.Tests.Admission;

public sealed class HalfOpenCounterTests
{
    private static HalfOpenCounter Counter(int pending = 100, int pendingPerClient = 100) =>
        new(Options.Create(new GatewayOptions { MaxPendingTlsHandshakes = pending, MaxPendingTlsHandshakesPerClient = pendingPerClient }));

    private static Platform.Gateway.Tenants.TenantRuntime Tenant(string slug, int total, int perClient) =>
        TestTenants.Tenant(slug, new TenantConfig { Limits = new LimitsConfig { MaxHalfOpenHandshakes = total, MaxHalfOpenHandshakesPerClient = perClient } });

    [Fact]
    public void TryEnterTenant_PerClientCap_RefusesThatClientOnlyAndFreesOnDispose()
    {
        var counter = Counter();
        var tenant = Tenant("acme", total: 10, perClient: 2);
        var one = IPAddress.Parse("192.0.2.1");
        var two = IPAddress.Parse("192.0.2.2");

        var first = counter.TryEnterTenant(tenant, one);
        var second = counter.TryEnterTenant(tenant, one);
        var third = counter.TryEnterTenant(tenant, one);
        var other = counter.TryEnterTenant(tenant, two);

        Assert.NotNull(first);
        Assert.NotNull(second);
        Assert.Null(third);
        Assert.NotNull(other);
        Assert.Equal(3, counter.ForTenant(tenant.Id));

        first!.Dispose();
        first.Dispose();
        Assert.Equal(2, counter.ForTenant(tenant.Id));
        Assert.NotNull(counter.TryEnterTenant(tenant, one));
        Assert.Null(counter.TryEnterTenant(tenant, one));
    }

    [Fact]
    public void TryEnterTenant_TenantCap_CountsEveryClientAndLeavesOtherTenantsAlone()
    {
        var counter = Counter();
        var acme = Tenant("acme", total: 3, perClient: 16);
        var beta = Tenant("beta", total: 3, perClient: 16);

        var held = Enumerable.Range(1, 3).Select(i => counter.TryEnterTenant(acme, IPAddress.Parse($"192.0.2.{i}"))).ToList();

        Assert.All(held, Assert.NotNull);
        Assert.Null(counter.TryEnterTenant(acme, IPAddress.Parse("192.0.2.99")));
        Assert.NotNull(counter.TryEnterTenant(beta, IPAddress.Parse("192.0.2.99")));
        held[0]!.Dispose();
        Assert.NotNull(counter.TryEnterTenant(acme, IPAddress.Parse("192.0.2.99")));
    }

    [Fact]
    public void TryEnterTenant_RefusedByTheClientCap_DoesNotKeepATenantCount()
    {
        var counter = Counter();
        var tenant = Tenant("acme", total: 2, perClient: 1);
        var client = IPAddress.Parse("192.0.2.1");

        Assert.NotNull(counter.TryEnterTenant(tenant, client));
        for (var i = 0; i < 5; i++)
        {
            Assert.Null(counter.TryEnterTenant(tenant, client));
        }

        Assert.Equal(1, counter.ForTenant(tenant.Id));
        Assert.NotNull(counter.TryEnterTenant(tenant, IPAddress.Parse("192.0.2.2")));
    }

    [Fact]
    public void TryEnterPending_TotalAndPerClientCaps()
    {
        var counter = Counter(pending: 3, pendingPerClient: 2);
        var one = IPAddress.Parse("192.0.2.1");

        var a = counter.TryEnterPending(one);
        var b = counter.TryEnterPending(one);
        Assert.Null(counter.TryEnterPending(one));
        var c = counter.TryEnterPending(IPAddress.Parse("192.0.2.2"));
        Assert.Null(counter.TryEnterPending(IPAddress.Parse("192.0.2.3")));
        Assert.Equal(3, counter.Pending);

        a!.Dispose();
        Assert.NotNull(counter.TryEnterPending(IPAddress.Parse("192.0.2.3")));
        b!.Dispose();
        c!.Dispose();
        Assert.Equal(1, counter.Pending);
    }

    [Theory]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", true)]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:3::1", false)]
    [InlineData("192.0.2.1", "::ffff:192.0.2.1", true)]
    [InlineData("192.0.2.1", "192.0.2.2", false)]
    [InlineData("0.0.0.1", "::", false)]
    [InlineData("192.0.2.1", "::ffff:0:0", false)]
    public void PrefixOf_IPv6By64IPv4ByAddress(string a, string b, bool same)
    {
        Assert.Equal(same, HalfOpenCounter.PrefixOf(IPAddress.Parse(a)) == HalfOpenCounter.PrefixOf(IPAddress.Parse(b)));
    }

    [Fact]
    public void TryEnterTenant_AddressesOfOneIPv6Slash64_ShareTheClientCap()
    {
        var counter = Counter();
        var tenant = Tenant("acme", total: 100, perClient: 2);

        Assert.NotNull(counter.TryEnterTenant(tenant, IPAddress.Parse("2001:db8:0:7::1")));
        Assert.NotNull(counter.TryEnterTenant(tenant, IPAddress.Parse("2001:db8:0:7::2")));
        Assert.Null(counter.TryEnterTenant(tenant, IPAddress.Parse("2001:db8:0:7:abcd::3")));
        Assert.NotNull(counter.TryEnterTenant(tenant, IPAddress.Parse("2001:db8:0:8::1")));
    }

    [Fact]
    public async Task TryEnterTenant_ConcurrentEntriesAndExits_NeverExceedTheCapAndEndAtZero()
    {
        var counter = Counter();
        var tenant = Tenant("acme", total: 2, perClient: 8);
        var client = IPAddress.Parse("192.0.2.1");
        var inside = 0;
        var most = 0;

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 20_000; i++)
            {
                using var slot = counter.TryEnterTenant(tenant, client);
                if (slot is not null)
                {
                    var now = Interlocked.Increment(ref inside);
                    InterlockedMax(ref most, now);
                    Interlocked.Decrement(ref inside);
                }
            }
        })));

        Assert.InRange(most, 1, 2);
        Assert.Equal(0, counter.ForTenant(tenant.Id));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
