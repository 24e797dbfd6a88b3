using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Platform.Contracts.Internal;
using Platform.Gateway.Admission;
using Platform.Gateway.Hosting;
using Platform.Gateway.Tenants;
using Platform.Testing;

namespace Platform.Gateway.Tests.Support;

/// <summary>Admission with its real collaborators, a fake clock and an in-memory lease authority.</summary>
internal sealed class AdmissionRig : IDisposable
{
    private readonly ServiceProvider _services;

    /// <param name="idleSlots">Slots kept of an idle tenant; by default a whole batch, so a published tenant has room at once.</param>
    public AdmissionRig(FakeLeaseAuthority? authority = null, string gatewayId = "gw-a", int batch = 4, int? idleSlots = null)
    {
        Authority = authority ?? new FakeLeaseAuthority();
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var options = Options.Create(new GatewayOptions { LeaseBatch = batch, LeaseIdleSlots = idleSlots ?? batch, PlatformDomain = "platform.test" });
        Store = new TenantSnapshotStore(TestTenants.Compiler(), NullLogger<TenantSnapshotStore>.Instance);
        LeaseClient = new FakeLeaseClient(Authority, gatewayId);
        Metrics = new GatewayMetrics(_services.GetRequiredService<IMeterFactory>());
        Leases = new LeaseManager(LeaseClient, Store, options, Metrics, Time, NullLogger<LeaseManager>.Instance);
        Drain = new DrainState();
        Names = new ReverseDnsCache(Resolver, options, Time, NullLogger<ReverseDnsCache>.Instance);
        Controller = new AdmissionController(Leases, Drain, Names, Metrics, Time);
        Refusals = new RefusalRecorder(_services.GetRequiredService<IMeterFactory>());
    }

    public ManualTimeProvider Time { get; } = new();

    public FakeLeaseAuthority Authority { get; }

    public FakeLeaseClient LeaseClient { get; }

    public TenantSnapshotStore Store { get; }

    public LeaseManager Leases { get; }

    public GatewayMetrics Metrics { get; }

    public DrainState Drain { get; }

    public FakeReverseDnsResolver Resolver { get; } = new();

    public ReverseDnsCache Names { get; }

    public AdmissionController Controller { get; }

    public RefusalRecorder Refusals { get; }

    /// <summary>Publishes tenants, sets their MaxConnections at the authority, and syncs leases once.</summary>
    public async Task<TenantRuntime[]> PublishAsync(params TenantSnapshot[] tenants)
    {
        foreach (var tenant in tenants)
        {
            Authority.Max[tenant.Id] = tenant.Config.Limits.MaxConnections;
        }

        var snapshot = Store.Apply(new ConfigWatchResponse(tenants.Max(t => t.Revision) + Store.Current.Revision, true, tenants, []));
        await Leases.SyncOnceAsync(CancellationToken.None);
        return tenants.Select(t => snapshot.ById[t.Id]).ToArray();
    }

    public long RefusalCount(string tenant, string reason) => Refusals.Count(tenant, reason);

    public void Dispose()
    {
        Refusals.Dispose();
        Names.Dispose();
        Leases.Dispose();
        Metrics.Dispose();
        _services.Dispose();
    }
}
