using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Platform.Gateway.Admission;
using Platform.Gateway.Hosting;
using Platform.Gateway.Tests.Support;
using Platform.Testing;

namespace Platform.Gateway.Tests.Admission;

public sealed class ReverseDnsCacheTests
{
    private static readonly Guid TenantA = Guid.NewGuid();
    private static readonly Guid TenantB = Guid.NewGuid();
    private static readonly IPAddress Client = IPAddress.Parse("127.0.0.2");

    private sealed class Rig : IDisposable
    {
        public Rig(Action<GatewayOptions>? configure = null)
        {
            var options = new GatewayOptions();
            configure?.Invoke(options);
            Cache = new ReverseDnsCache(Resolver, Options.Create(options), Time, NullLogger<ReverseDnsCache>.Instance);
        }

        public ManualTimeProvider Time { get; } = new();

        public FakeReverseDnsResolver Resolver { get; } = new();

        public ReverseDnsCache Cache { get; }

        /// <summary>Gives the open lookup of <paramref name="address"/> its answer and waits until the cache has taken it.</summary>
        public async Task AnswerAsync(IPAddress address, ReverseDnsResult result)
        {
            await Resolver.AnswerAsync(address, result);
            await Wait.UntilAsync(() => Cache.Running == 0, "the cache to store the answer");
        }

        public void Dispose() => Cache.Dispose();
    }

    private static IPAddress Address(int i) => new([127, 0, (byte)(i / 250 + 1), (byte)(i % 250 + 1)]);

    [Fact]
    public void Lookup_NotResolved_UnknownAndOneLookupForRepeatedCalls()
    {
        using var rig = new Rig();

        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(ReverseDnsAnswer.Unknown, rig.Cache.Lookup(i % 2 == 0 ? TenantA : TenantB, Client));
        }

        Assert.Equal(1, rig.Cache.LookupsStarted);
    }

    [Fact]
    public async Task Lookup_Confirmed_NamesUntilTheTtlEnds()
    {
        using var rig = new Rig();
        rig.Cache.Lookup(TenantA, Client);
        await rig.AnswerAsync(Client, ReverseDnsResult.Confirmed(["device.example.com"], TimeSpan.FromSeconds(120)));

        var answer = rig.Cache.Lookup(TenantA, Client);
        Assert.True(answer.Known);
        Assert.Equal(["device.example.com"], answer.Names);

        rig.Time.Advance(TimeSpan.FromSeconds(121));
        Assert.Equal(ReverseDnsAnswer.Unknown, rig.Cache.Lookup(TenantA, Client));
        Assert.Equal(2, rig.Cache.LookupsStarted);
    }

    [Theory]
    [InlineData(0, 30)]
    [InlineData(5, 30)]
    [InlineData(86_400, 3600)]
    public async Task Lookup_AnswerTtl_KeptWithinThirtySecondsAndOneHour(int ttlSeconds, int keptSeconds)
    {
        using var rig = new Rig();
        rig.Cache.Lookup(TenantA, Client);
        await rig.AnswerAsync(Client, ReverseDnsResult.NoName(TimeSpan.FromSeconds(ttlSeconds)));

        rig.Time.Advance(TimeSpan.FromSeconds(keptSeconds - 1));
        Assert.True(rig.Cache.Lookup(TenantA, Client).Known);
        rig.Time.Advance(TimeSpan.FromSeconds(2));
        Assert.False(rig.Cache.Lookup(TenantA, Client).Known);
    }

    [Fact]
    public async Task Lookup_NoName_NegativeAnswerCachedWithoutNewQueries()
    {
        using var rig = new Rig();
        rig.Cache.Lookup(TenantA, Client);
        await rig.AnswerAsync(Client, ReverseDnsResult.NoName(TimeSpan.FromSeconds(60)));

        for (var i = 0; i < 40; i++)
        {
            var answer = rig.Cache.Lookup(TenantA, Client);
            Assert.True(answer.Known);
            Assert.Empty(answer.Names);
            rig.Time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(1, rig.Cache.LookupsStarted);
    }

    [Fact]
    public async Task Lookup_Failed_UnknownAndRetriedAfterTenSeconds()
    {
        using var rig = new Rig();
        rig.Cache.Lookup(TenantA, Client);
        await rig.AnswerAsync(Client, ReverseDnsResult.Failure("timeout"));

        Assert.Equal(ReverseDnsAnswer.Unknown, rig.Cache.Lookup(TenantA, Client));
        rig.Time.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal(ReverseDnsAnswer.Unknown, rig.Cache.Lookup(TenantA, Client));
        Assert.Equal(1, rig.Cache.LookupsStarted);

        rig.Time.Advance(TimeSpan.FromSeconds(2));
        rig.Cache.Lookup(TenantA, Client);
        Assert.Equal(2, rig.Cache.LookupsStarted);
    }

    [Fact]
    public async Task Lookup_ResolverThrows_UnknownAndRetriedLikeAFailure()
    {
        using var rig = new Rig();
        rig.Cache.Lookup(TenantA, Client);
        await rig.Resolver.FaultAsync(Client, new InvalidOperationException("broken"));
        await Wait.UntilAsync(() => rig.Cache.Running == 0, "the lookup to end");

        Assert.Equal(ReverseDnsAnswer.Unknown, rig.Cache.Lookup(TenantA, Client));
        Assert.Equal(1, rig.Cache.LookupsStarted);
        rig.Time.Advance(ReverseDnsCache.FailureRetry);
        rig.Cache.Lookup(TenantA, Client);
        Assert.Equal(2, rig.Cache.LookupsStarted);
    }

    [Fact]
    public async Task Lookup_LastQuarterOfTtl_RefreshedWhileTheAnswerStillServes()
    {
        using var rig = new Rig();
        rig.Cache.Lookup(TenantA, Client);
        await rig.AnswerAsync(Client, ReverseDnsResult.Confirmed(["old.example.com"], TimeSpan.FromSeconds(100)));

        rig.Time.Advance(TimeSpan.FromSeconds(74));
        Assert.Equal(["old.example.com"], rig.Cache.Lookup(TenantA, Client).Names);
        Assert.Equal(1, rig.Cache.LookupsStarted);

        rig.Time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(["old.example.com"], rig.Cache.Lookup(TenantA, Client).Names);
        Assert.Equal(2, rig.Cache.LookupsStarted);

        // A failed refresh leaves the valid answer in place until it expires.
        await rig.AnswerAsync(Client, ReverseDnsResult.Failure("timeout"));
        Assert.Equal(["old.example.com"], rig.Cache.Lookup(TenantA, Client).Names);
        await rig.AnswerAsync(Client, ReverseDnsResult.Confirmed(["new.example.com"], TimeSpan.FromSeconds(100)));
        Assert.Equal(["new.example.com"], rig.Cache.Lookup(TenantA, Client).Names);
    }

    [Fact]
    public async Task Lookup_TenantInFlightLimit_FurtherLookupsWaitAndOtherTenantsAreNotStarved()
    {
        using var rig = new Rig(o => o.ReverseDnsLookupsInFlightPerTenant = 2);

        for (var i = 0; i < 20; i++)
        {
            Assert.False(rig.Cache.Lookup(TenantA, Address(i)).Known);
        }

        Assert.Equal(2, rig.Cache.LookupsStarted);
        rig.Cache.Lookup(TenantB, Client);
        Assert.Equal(3, rig.Cache.LookupsStarted);

        // A finished lookup frees its place for the next address of that tenant; the other tenant's does not.
        await rig.Resolver.AnswerAsync(Client, ReverseDnsResult.NoName(TimeSpan.FromMinutes(5)));
        await Wait.UntilAsync(() => rig.Cache.Running == 2, "the answer to be stored");
        rig.Cache.Lookup(TenantA, Address(5));
        Assert.Equal(3, rig.Cache.LookupsStarted);
        await rig.Resolver.AnswerAsync(Address(0), ReverseDnsResult.NoName(TimeSpan.FromMinutes(5)));
        await Wait.UntilAsync(() => rig.Cache.Running == 1, "the answer to be stored");
        rig.Cache.Lookup(TenantA, Address(5));
        Assert.Equal(4, rig.Cache.LookupsStarted);
        rig.Cache.Lookup(TenantA, Address(6));
        Assert.Equal(4, rig.Cache.LookupsStarted);
        await Wait.UntilAsync(() => rig.Resolver.CallsFor(Address(5)) == 1, "the resolver to be asked about the next address");
    }

    [Fact]
    public void Lookup_TenantRate_NewLookupsPerSecondBounded()
    {
        using var rig = new Rig(o => o.ReverseDnsLookupsPerSecondPerTenant = 3);

        for (var i = 0; i < 20; i++)
        {
            rig.Cache.Lookup(TenantA, Address(i));
        }

        Assert.Equal(3, rig.Cache.LookupsStarted);
        rig.Cache.Lookup(TenantB, Client);
        Assert.Equal(4, rig.Cache.LookupsStarted);

        rig.Time.Advance(TimeSpan.FromSeconds(1));
        for (var i = 20; i < 40; i++)
        {
            rig.Cache.Lookup(TenantA, Address(i));
        }

        Assert.Equal(7, rig.Cache.LookupsStarted);
    }

    [Fact]
    public void Lookup_GatewayLimits_HoldAcrossTenants()
    {
        using var rig = new Rig(o =>
        {
            o.ReverseDnsLookupsInFlight = 5;
            o.ReverseDnsLookupsPerSecond = 1000;
        });

        for (var i = 0; i < 30; i++)
        {
            rig.Cache.Lookup(Guid.NewGuid(), Address(i));
        }

        Assert.Equal(5, rig.Cache.LookupsStarted);
    }

    [Fact]
    public async Task Lookup_GatewayRate_HoldsAcrossTenants()
    {
        using var rig = new Rig(o => o.ReverseDnsLookupsPerSecond = 4);

        for (var i = 0; i < 30; i++)
        {
            rig.Cache.Lookup(Guid.NewGuid(), Address(i));
        }

        Assert.Equal(4, rig.Cache.LookupsStarted);
        for (var i = 0; i < 4; i++)
        {
            await rig.Resolver.AnswerAsync(Address(i), ReverseDnsResult.NoName(TimeSpan.FromMinutes(5)));
        }

        await Wait.UntilAsync(() => rig.Cache.Running == 0, "the answers to be stored");

        rig.Cache.Lookup(Guid.NewGuid(), Address(10));
        Assert.Equal(4, rig.Cache.LookupsStarted);
        rig.Time.Advance(TimeSpan.FromSeconds(1));
        rig.Cache.Lookup(Guid.NewGuid(), Address(10));
        Assert.Equal(5, rig.Cache.LookupsStarted);
    }

    [Fact]
    public async Task Lookup_ManyAddresses_CacheStaysWithinItsSize()
    {
        using var rig = new Rig(o => o.ReverseDnsCacheEntries = 16);

        for (var i = 0; i < 100; i++)
        {
            rig.Cache.Lookup(TenantA, Address(i));
            await rig.AnswerAsync(Address(i), ReverseDnsResult.Confirmed([$"d{i}.example.com"], TimeSpan.FromSeconds(60 + i)));
            rig.Time.Advance(TimeSpan.FromSeconds(1));
            Assert.True(rig.Cache.Count <= 16, $"{rig.Cache.Count} entries after {i + 1} answers");
        }

        // The newest answers are the ones kept.
        Assert.Equal(["d99.example.com"], rig.Cache.Lookup(TenantA, Address(99)).Names);
    }
}
