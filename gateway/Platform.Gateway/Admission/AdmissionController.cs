using System.Collections.Concurrent;
using System.Net;
using Platform.Contracts.Problems;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Admission;

/// <summary>
/// Decides from memory alone whether a new connection may proceed, in a fixed order: draining,
/// suspended, blocked (blocked wins over allowed), not allowed, connection rate, per-client cap,
/// MaxConnections slot. Every refusal is counted per tenant and reason.
/// </summary>
internal sealed class AdmissionController(
    LeaseManager leases,
    DrainState drain,
    ReverseDnsCache names,
    GatewayMetrics metrics,
    TimeProvider time)
{
    private readonly ConcurrentDictionary<Guid, TenantAdmission> _tenants = new();

    /// <summary>
    /// Admits or refuses at once, from memory, for callers that cannot wait (a DTLS handshake inside
    /// OpenSSL); on admission the returned ticket holds the slot until disposed. With
    /// <paramref name="deferLateLease"/>, a connection that passes every check but finds no free MaxConnections
    /// slot while a lease round trip may still bring one is neither admitted nor counted as refused:
    /// <paramref name="deferred"/> tells the caller to let the client retry (the round trip is already asked for).
    /// </summary>
    public RefusalReason TryAdmit(TenantRuntime tenant, string protocol, IPAddress client, bool deferLateLease, out AdmissionTicket? ticket, out bool deferred)
    {
        deferred = false;
        client = Normalize(client);
        var reason = CheckBeforeLease(tenant, client, out var state);
        if (reason == RefusalReason.None && !leases.TryAcquire(tenant.Id))
        {
            ReleaseClient(state!, client);
            reason = RefusalReason.MaxConnections;
            if (deferLateLease && leases.MayGrantSoon(tenant.Id))
            {
                deferred = true;
                ticket = null;
                return reason;
            }
        }

        return Finish(tenant, protocol, client, reason, out ticket);
    }

    /// <summary>
    /// Admits or refuses like <see cref="TryAdmit"/>, except that when a burst has used up the gateway's free
    /// MaxConnections slots it waits, briefly, for the lease round trip in flight instead of refusing.
    /// </summary>
    public async ValueTask<(RefusalReason Reason, AdmissionTicket? Ticket)> AdmitAsync(TenantRuntime tenant, string protocol, IPAddress client, CancellationToken cancellationToken)
    {
        client = Normalize(client);
        var reason = CheckBeforeLease(tenant, client, out var state);
        if (reason == RefusalReason.None)
        {
            bool acquired;
            try
            {
                acquired = await leases.AcquireAsync(tenant.Id, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // The client went away (or the gateway is stopping) while waiting: its per-address count goes back.
                ReleaseClient(state!, client);
                throw;
            }

            if (!acquired)
            {
                ReleaseClient(state!, client);
                reason = RefusalReason.MaxConnections;
            }
        }

        return (Finish(tenant, protocol, client, reason, out var ticket), ticket);
    }

    private RefusalReason Finish(TenantRuntime tenant, string protocol, IPAddress client, RefusalReason reason, out AdmissionTicket? ticket)
    {
        ticket = null;
        if (reason != RefusalReason.None)
        {
            metrics.Refused(tenant.Slug, protocol, reason);
            return reason;
        }

        metrics.Admitted(protocol);
        ticket = new AdmissionTicket(this, tenant.Id, client);
        return RefusalReason.None;
    }

    private static IPAddress Normalize(IPAddress client) => client.IsIPv4MappedToIPv6 ? client.MapToIPv4() : client;

    /// <summary>Counts a refusal decided outside admission (origin, backend, TLS).</summary>
    public void CountRefusal(string tenant, string protocol, RefusalReason reason) => metrics.Refused(tenant, protocol, reason);

    /// <summary>Every check but the MaxConnections slot; on success the client's per-address count is taken.</summary>
    private RefusalReason CheckBeforeLease(TenantRuntime tenant, IPAddress client, out TenantAdmission? state)
    {
        state = null;
        if (drain.IsDraining)
        {
            return RefusalReason.Draining;
        }

        if (tenant.Suspended)
        {
            return RefusalReason.Suspended;
        }

        var resolved = tenant.Blocked.HasHostNameEntries || tenant.Allowed.HasHostNameEntries ? names.Lookup(tenant.Id, client) : ReverseDnsAnswer.NoNames;
        if (tenant.Blocked.Matches(client, resolved.Names))
        {
            return RefusalReason.Blocked;
        }

        // Fail closed: until the client's confirmed names are known, a host-name block entry may match it.
        if (!resolved.Known && tenant.Blocked.HasHostNameEntries)
        {
            return RefusalReason.ReverseDnsPending;
        }

        // An empty AllowedClients, like "*", admits every client that is not blocked.
        if (!tenant.Allowed.IsEmpty && !tenant.Allowed.Matches(client, resolved.Names))
        {
            // Meanwhile only address entries admit; a host-name entry may still admit the client once its names are known.
            return resolved.Known || !tenant.Allowed.HasHostNameEntries ? RefusalReason.NotAllowed : RefusalReason.ReverseDnsPending;
        }

        state = _tenants.GetOrAdd(tenant.Id, static _ => new TenantAdmission());
        var rate = tenant.Config.Limits.ConnectionsPerSecond;
        if (rate > 0)
        {
            var bucket = state.Bucket;
            if (bucket is null || bucket.PerSecond != rate)
            {
                bucket = new TokenBucket(time, rate);
                state.Bucket = bucket;
            }

            if (!bucket.TryTake())
            {
                return RefusalReason.RateLimited;
            }
        }

        var perClient = tenant.Config.Limits.MaxConnectionsPerClient;
        var count = state.PerClient.AddOrUpdate(client, 1, static (_, n) => n + 1);
        if (perClient > 0 && count > perClient)
        {
            ReleaseClient(state, client);
            return RefusalReason.PerClientLimit;
        }

        return RefusalReason.None;
    }

    internal void Release(Guid tenantId, IPAddress client)
    {
        leases.Release(tenantId);
        if (_tenants.TryGetValue(tenantId, out var state))
        {
            ReleaseClient(state, client);
        }
    }

    private static void ReleaseClient(TenantAdmission state, IPAddress client)
    {
        var count = state.PerClient.AddOrUpdate(client, 0, static (_, n) => n - 1);
        if (count <= 0)
        {
            state.PerClient.TryRemove(new KeyValuePair<IPAddress, int>(client, count));
        }
    }

    private sealed class TenantAdmission
    {
        public readonly ConcurrentDictionary<IPAddress, int> PerClient = new();
        public volatile TokenBucket? Bucket;
    }
}

/// <summary>An admitted connection's slot; disposing returns it exactly once.</summary>
internal sealed class AdmissionTicket(AdmissionController owner, Guid tenantId, IPAddress client) : IDisposable
{
    private int _released;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            owner.Release(tenantId, client);
        }
    }
}
