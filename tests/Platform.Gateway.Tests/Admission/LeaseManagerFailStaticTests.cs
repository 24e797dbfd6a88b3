using Platform.Contracts.Config;
using Platform.Contracts.Internal;
using Platform.Gateway.Tests.Support;

namespace Platform.Gateway.Tests.Admission;

/// <summary>Local slots while the silo has never answered, and their hand-over once it does.</summary>
public sealed class LeaseManagerFailStaticTests
{
    [Fact]
    public async Task ExecuteAsync_SiloNeverAnswered_LocalSlotsUpToMaxThenTheGrantReplacesThem()
    {
        var authority = new FakeLeaseAuthority { Unavailable = true };
        using var rig = new AdmissionRig(authority, batch: 2);
        var snapshot = TestTenants.Snapshot("acme", new TenantConfig { Limits = new LimitsConfig { MaxConnections = 5 } });
        authority.Max[snapshot.Id] = 5;
        rig.Store.Apply(new ConfigWatchResponse(1, true, [snapshot], []));
        await rig.Leases.StartAsync(CancellationToken.None);
        try
        {
            await Wait.UntilAsync(() => rig.Leases.FailStatic, "local slots");
            for (var i = 0; i < 5; i++)
            {
                Assert.True(rig.Leases.TryAcquire(snapshot.Id));
            }

            Assert.False(rig.Leases.TryAcquire(snapshot.Id));

            // Meanwhile another gateway holds 3 of the 5 slots; the silo comes back.
            authority.Sync("gw-b", new LeaseSyncRequest([new LeaseWant(snapshot.Id, 3)]));
            authority.Unavailable = false;
            rig.Leases.RequestSync();
            await Wait.UntilAsync(() => !rig.Leases.FailStatic, "the first answer from the silo");

            Assert.Equal((2, 5), rig.Leases.Get(snapshot.Id));
            Assert.Equal(2, authority.Held(snapshot.Id, "gw-a"));
            Assert.False(rig.Leases.TryAcquire(snapshot.Id));
            for (var i = 0; i < 4; i++)
            {
                rig.Leases.Release(snapshot.Id);
            }

            Assert.True(rig.Leases.TryAcquire(snapshot.Id));
        }
        finally
        {
            await rig.Leases.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task ExecuteAsync_SiloAnsweredBeforeGoingAway_KeepsItsGrantNoLocalSlots()
    {
        var authority = new FakeLeaseAuthority();
        using var rig = new AdmissionRig(authority, batch: 2);
        var tenant = (await rig.PublishAsync(TestTenants.Snapshot("acme", new TenantConfig { Limits = new LimitsConfig { MaxConnections = 50 } })))[0];
        authority.Unavailable = true;
        var answered = rig.LeaseClient.Requests.Count;
        Assert.True(rig.Leases.TryAcquire(tenant.Id));
        Assert.True(rig.Leases.TryAcquire(tenant.Id));
        await rig.Leases.StartAsync(CancellationToken.None);
        try
        {
            await Wait.UntilAsync(() => rig.LeaseClient.Requests.Count >= answered + 2, "failed sync rounds");

            Assert.False(rig.Leases.FailStatic);
            Assert.Equal((2, 2), rig.Leases.Get(tenant.Id));
            Assert.False(rig.Leases.TryAcquire(tenant.Id));
        }
        finally
        {
            await rig.Leases.StopAsync(CancellationToken.None);
        }
    }
}
