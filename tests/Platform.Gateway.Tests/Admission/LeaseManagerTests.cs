using Platform.Contracts.Config;
using Platform.Contracts.Internal;
using Platform.Gateway.Tests.Support;

namespace Platform.Gateway.Tests.Admission;

public sealed class LeaseManagerTests
{
    private static TenantConfig Max(int max) => new() { Limits = new LimitsConfig { MaxConnections = max } };

    [Fact]
    public async Task SyncOnceAsync_NewTenant_AsksForOneBatchCappedByMax()
    {
        using var rig = new AdmissionRig(batch: 4);
        var big = (await rig.PublishAsync(TestTenants.Snapshot("big", Max(100)), TestTenants.Snapshot("small", Max(2))))[0];

        Assert.Equal((4, 0), rig.Leases.Get(big.Id));
        Assert.Equal(2, rig.Leases.Get(rig.Store.Current.BySlug["small"].Id).Held);
    }

    [Fact]
    public async Task TryAcquire_BelowLowWatermark_NextSyncTopsUp()
    {
        using var rig = new AdmissionRig(batch: 4);
        var tenant = (await rig.PublishAsync(TestTenants.Snapshot("acme", Max(100))))[0];

        Assert.True(rig.Leases.TryAcquire(tenant.Id));
        Assert.True(rig.Leases.TryAcquire(tenant.Id));
        Assert.True(rig.Leases.TryAcquire(tenant.Id));
        await rig.Leases.SyncOnceAsync(CancellationToken.None);

        // In use 3, plus a batch: the configured 4 or twice the 3 that arrived since the last round, whichever is more.
        Assert.Equal((9, 3), rig.Leases.Get(tenant.Id));
        Assert.Equal(9, rig.Authority.Held(tenant.Id, "gw-a"));
    }

    [Fact]
    public async Task Release_ManyUnused_GivesSlotsBack()
    {
        using var rig = new AdmissionRig(batch: 2);
        var tenant = (await rig.PublishAsync(TestTenants.Snapshot("acme", Max(100))))[0];
        for (var i = 0; i < 6; i++)
        {
            Assert.True(rig.Leases.TryAcquire(tenant.Id));
            await rig.Leases.SyncOnceAsync(CancellationToken.None);
        }

        for (var i = 0; i < 6; i++)
        {
            rig.Leases.Release(tenant.Id);
        }

        await rig.Leases.SyncOnceAsync(CancellationToken.None);

        Assert.Equal((2, 0), rig.Leases.Get(tenant.Id));
        Assert.Equal(2, rig.Authority.Held(tenant.Id, "gw-a"));
    }

    [Fact]
    public async Task TryAcquire_TwoGateways_SumNeverExceedsMax()
    {
        var authority = new FakeLeaseAuthority();
        using var a = new AdmissionRig(authority, "gw-a", batch: 4);
        using var b = new AdmissionRig(authority, "gw-b", batch: 4);
        var snapshot = TestTenants.Snapshot("acme", Max(5));
        var tenant = (await a.PublishAsync(snapshot))[0];
        await b.PublishAsync(snapshot);

        var admitted = 0;
        for (var round = 0; round < 5; round++)
        {
            while (a.Leases.TryAcquire(tenant.Id))
            {
                admitted++;
            }

            while (b.Leases.TryAcquire(tenant.Id))
            {
                admitted++;
            }

            await a.Leases.SyncOnceAsync(CancellationToken.None);
            await b.Leases.SyncOnceAsync(CancellationToken.None);
        }

        Assert.Equal(5, admitted);
        Assert.True(authority.Held(tenant.Id, "gw-a") + authority.Held(tenant.Id, "gw-b") <= 5);
    }

    [Fact]
    public async Task SyncOnceAsync_SiloDown_KeepsHeldSlots()
    {
        using var rig = new AdmissionRig(batch: 4);
        var tenant = (await rig.PublishAsync(TestTenants.Snapshot("acme", Max(100))))[0];
        rig.Authority.Unavailable = true;
        Assert.True(rig.Leases.TryAcquire(tenant.Id));
        Assert.True(rig.Leases.TryAcquire(tenant.Id));
        Assert.True(rig.Leases.TryAcquire(tenant.Id));

        await Assert.ThrowsAsync<Orleans.Runtime.SiloUnavailableException>(() => rig.Leases.SyncOnceAsync(CancellationToken.None));

        Assert.Equal((4, 3), rig.Leases.Get(tenant.Id));
        Assert.True(rig.Leases.TryAcquire(tenant.Id));
        Assert.False(rig.Leases.TryAcquire(tenant.Id));
    }

    [Fact]
    public async Task SyncOnceAsync_BurstBeyondBatch_NextGrantCoversTheDemand()
    {
        using var rig = new AdmissionRig(batch: 4);
        var tenant = (await rig.PublishAsync(TestTenants.Snapshot("acme", Max(100))))[0];
        var admitted = 0;
        for (var i = 0; i < 20; i++)
        {
            admitted += rig.Leases.TryAcquire(tenant.Id) ? 1 : 0;
        }

        await rig.Leases.SyncOnceAsync(CancellationToken.None);

        Assert.Equal(4, admitted);
        var (held, inUse) = rig.Leases.Get(tenant.Id);
        Assert.Equal(4, inUse);
        Assert.True(held - inUse >= 16, $"held {held}: the grant after 20 attempts should leave room for as many again");
    }

    [Fact]
    public async Task AcquireAsync_NoFreeSlot_WaitsForTheRoundTripInFlight()
    {
        using var rig = new AdmissionRig(batch: 2);
        var tenant = (await rig.PublishAsync(TestTenants.Snapshot("acme", Max(100))))[0];
        Assert.True(rig.Leases.TryAcquire(tenant.Id));
        Assert.True(rig.Leases.TryAcquire(tenant.Id));

        var waiting = rig.Leases.AcquireAsync(tenant.Id, CancellationToken.None).AsTask();
        Assert.False(waiting.IsCompleted);
        await rig.Leases.SyncOnceAsync(CancellationToken.None);

        Assert.True(await waiting.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(3, rig.Leases.Get(tenant.Id).InUse);
    }

    [Fact]
    public async Task AcquireAsync_TenantAtMaxClusterWide_RefusesWithoutWaiting()
    {
        var authority = new FakeLeaseAuthority();
        using var a = new AdmissionRig(authority, "gw-a", batch: 4);
        using var b = new AdmissionRig(authority, "gw-b", batch: 4);
        var snapshot = TestTenants.Snapshot("acme", Max(4));
        var tenant = (await a.PublishAsync(snapshot))[0];
        await b.PublishAsync(snapshot);

        Assert.Equal(4, a.Leases.Get(tenant.Id).Held);
        Assert.Equal(0, b.Leases.Get(tenant.Id).Held);
        var refused = b.Leases.AcquireAsync(tenant.Id, CancellationToken.None).AsTask();

        Assert.True(refused.IsCompleted, "a tenant whose last grant fell short is at its maximum: no wait");
        Assert.False(await refused);
    }

    [Fact]
    public async Task SyncOnceAsync_IdleTenant_HoldsTheIdleShareOnlyAndReportsUse()
    {
        using var rig = new AdmissionRig(batch: 4, idleSlots: 1);
        var tenant = (await rig.PublishAsync(TestTenants.Snapshot("acme", Max(100))))[0];
        Assert.Equal((1, 0), rig.Leases.Get(tenant.Id));

        Assert.True(rig.Leases.TryAcquire(tenant.Id));
        Assert.False(rig.Leases.TryAcquire(tenant.Id));
        await rig.Leases.SyncOnceAsync(CancellationToken.None);

        Assert.Equal(new LeaseWant(tenant.Id, 5, InUse: 1, Held: 1, Waiting: 1), rig.LeaseClient.Requests[^1].Leases.Single());
        Assert.Equal((5, 1), rig.Leases.Get(tenant.Id));

        // The connection closes; a round without new arrivals finds the tenant idle here and gives back all but the share.
        rig.Leases.Release(tenant.Id);
        await rig.Leases.SyncOnceAsync(CancellationToken.None);

        Assert.Equal((1, 0), rig.Leases.Get(tenant.Id));
        Assert.Equal(1, rig.Authority.Held(tenant.Id, "gw-a"));
    }

    [Fact]
    public async Task AcquireAsync_ShortGrantWhileTheSiloReclaims_KeepsWaitingUntilTheSlotArrives()
    {
        using var rig = new AdmissionRig(batch: 4, idleSlots: 0);
        var tenant = (await rig.PublishAsync(TestTenants.Snapshot("acme", Max(1))))[0];
        var reclaiming = 3;
        rig.Authority.Script = (_, want) => want.Waiting > 0 && Interlocked.Decrement(ref reclaiming) >= 0
            ? new LeaseGrant(want.TenantId, 0, 1, Reclaiming: true)
            : null;
        await rig.Leases.StartAsync(CancellationToken.None);
        try
        {
            Assert.True(await rig.Leases.AcquireAsync(tenant.Id, CancellationToken.None));

            Assert.Equal((1, 1), rig.Leases.Get(tenant.Id));
            Assert.True(reclaiming < 0, "the silo answered Reclaiming three times before the slot came");
        }
        finally
        {
            await rig.Leases.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task ReportNow_SiloLowersTheGrant_HeldDropsAtOnceAndTheNextRoundConfirms()
    {
        using var rig = new AdmissionRig(batch: 4, idleSlots: 4);
        var tenant = (await rig.PublishAsync(TestTenants.Snapshot("acme", Max(100))))[0];
        Assert.True(rig.Leases.TryAcquire(tenant.Id));
        await rig.Leases.SyncOnceAsync(CancellationToken.None);
        var held = rig.Leases.Get(tenant.Id).Held;
        rig.Authority.Script = (_, want) => want.Held == held ? new LeaseGrant(want.TenantId, 1, 100) : null;

        rig.Leases.ReportNow([tenant.Id]);
        await rig.Leases.SyncOnceAsync(CancellationToken.None);

        Assert.Equal(new LeaseWant(tenant.Id, held, InUse: 1, Held: held), rig.LeaseClient.Requests[^1].Leases.Single());
        Assert.Equal((1, 1), rig.Leases.Get(tenant.Id));
        var before = rig.LeaseClient.Requests.Count;
        await rig.Leases.SyncOnceAsync(CancellationToken.None);

        Assert.Equal(before + 1, rig.LeaseClient.Requests.Count);
        Assert.Equal(1, rig.LeaseClient.Requests[^1].Leases.Single().Held);
    }
}
