using Platform.Contracts.Internal;
using Platform.Gateway.Admission;

namespace Platform.Gateway.Tests.Support;

/// <summary>
/// A lease authority with the silo's rule (a gateway gets at most what the others leave free) shared by
/// several in-test gateways, each presenting its own instance of this client.
/// </summary>
internal sealed class FakeLeaseClient(FakeLeaseAuthority authority, string gatewayId) : ILeaseSyncClient
{
    public List<LeaseSyncRequest> Requests { get; } = [];

    public Task<LeaseSyncResponse> SyncLeasesAsync(LeaseSyncRequest request, CancellationToken cancellationToken)
    {
        Requests.Add(request);
        if (authority.Unavailable)
        {
            throw new Orleans.Runtime.SiloUnavailableException("silo down");
        }

        return Task.FromResult(authority.Sync(gatewayId, request));
    }
}

internal sealed class FakeLeaseAuthority
{
    private readonly Dictionary<(Guid Tenant, string Gateway), int> _held = [];
    private readonly Lock _lock = new();

    public Dictionary<Guid, int> Max { get; } = [];

    public bool Unavailable { get; set; }

    /// <summary>Answers a want itself instead of the silo's rule when it returns a grant (what it grants is then held).</summary>
    public Func<string, LeaseWant, LeaseGrant?>? Script { get; set; }

    public int Held(Guid tenant, string gateway)
    {
        lock (_lock)
        {
            return _held.GetValueOrDefault((tenant, gateway));
        }
    }

    public LeaseSyncResponse Sync(string gatewayId, LeaseSyncRequest request)
    {
        lock (_lock)
        {
            var grants = new List<LeaseGrant>();
            foreach (var want in request.Leases)
            {
                if (Script?.Invoke(gatewayId, want) is { } scripted)
                {
                    _held[(want.TenantId, gatewayId)] = scripted.Slots;
                    grants.Add(scripted);
                    continue;
                }

                var max = Max.GetValueOrDefault(want.TenantId);
                var others = _held.Where(h => h.Key.Tenant == want.TenantId && h.Key.Gateway != gatewayId).Sum(h => h.Value);
                var slots = Math.Max(0, Math.Min(want.Slots, max - others));
                _held[(want.TenantId, gatewayId)] = slots;
                grants.Add(new LeaseGrant(want.TenantId, slots, max));
            }

            return new LeaseSyncResponse(grants);
        }
    }
}
