namespace Platform.Gateway.Dtls;

/// <summary>
/// Counts of half-open handshakes (cookie verified, not yet complete) under one lock: per source prefix across
/// tenants; unassigned, those no tenant has admitted yet; and once one has, per tenant and per (tenant, source
/// prefix). Every check takes its count in the same step, so concurrent workers never overshoot a cap. Each
/// session holds a <see cref="Slot"/> recording what it is counted in, and its release gives back exactly that.
/// </summary>
internal sealed class DtlsHandshakeLimits(int maxPerSource, int maxUnassigned)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<DtlsSourcePrefix, int> _bySource = [];
    private readonly Dictionary<string, int> _byTenant = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Tenant, DtlsSourcePrefix Source), int> _byTenantSource = [];
    private int _unassigned;

    internal enum Refusal
    {
        None,
        SourceLimit,
        UnassignedLimit,
    }

    /// <summary>Half-open handshakes no tenant has admitted yet.</summary>
    public int Unassigned
    {
        get
        {
            lock (_lock)
            {
                return _unassigned;
            }
        }
    }

    /// <summary>
    /// Counts a new handshake from <paramref name="source"/> as unassigned and returns its slot, unless a cap is
    /// reached: then null, and <paramref name="refusal"/> names the cap.
    /// </summary>
    public Slot? TryBegin(DtlsSourcePrefix source, out Refusal refusal)
    {
        lock (_lock)
        {
            var fromSource = _bySource.GetValueOrDefault(source);
            if (fromSource >= maxPerSource)
            {
                refusal = Refusal.SourceLimit;
                return null;
            }

            if (_unassigned >= maxUnassigned)
            {
                refusal = Refusal.UnassignedLimit;
                return null;
            }

            _bySource[source] = fromSource + 1;
            _unassigned++;
            refusal = Refusal.None;
            return new Slot(source);
        }
    }

    /// <summary>
    /// Moves an unassigned handshake to <paramref name="tenantId"/> unless that tenant's cap, or its cap for the
    /// slot's source prefix, is reached. True when the handshake is (already) counted for that tenant.
    /// </summary>
    public bool TryAssign(Slot slot, string tenantId, int maxForTenant, int maxForTenantSource)
    {
        lock (_lock)
        {
            if (slot.Released)
            {
                return false;
            }

            if (slot.TenantId is { } assigned)
            {
                return string.Equals(assigned, tenantId, StringComparison.Ordinal);
            }

            var key = (tenantId, slot.Source);
            var forTenant = _byTenant.GetValueOrDefault(tenantId);
            var forTenantSource = _byTenantSource.GetValueOrDefault(key);
            if (forTenant >= maxForTenant || forTenantSource >= maxForTenantSource)
            {
                return false;
            }

            _byTenant[tenantId] = forTenant + 1;
            _byTenantSource[key] = forTenantSource + 1;
            slot.TenantId = tenantId;
            _unassigned--;
            return true;
        }
    }

    /// <summary>Undoes <see cref="TryAssign"/>: the tenant's admission said no or not yet.</summary>
    public void Unassign(Slot slot)
    {
        lock (_lock)
        {
            if (slot.Released || slot.TenantId is not { } tenantId)
            {
                return;
            }

            Decrement(_byTenant, tenantId);
            Decrement(_byTenantSource, (tenantId, slot.Source));
            slot.TenantId = null;
            _unassigned++;
        }
    }

    /// <summary>The handshake completed or the session ended: everything the slot holds is given back, once.</summary>
    public void Release(Slot slot)
    {
        lock (_lock)
        {
            if (slot.Released)
            {
                return;
            }

            slot.Released = true;
            Decrement(_bySource, slot.Source);
            if (slot.TenantId is { } tenantId)
            {
                Decrement(_byTenant, tenantId);
                Decrement(_byTenantSource, (tenantId, slot.Source));
            }
            else
            {
                _unassigned--;
            }
        }
    }

    /// <summary>Half-open handshakes counted for a tenant.</summary>
    public int ForTenant(string tenantId)
    {
        lock (_lock)
        {
            return _byTenant.GetValueOrDefault(tenantId);
        }
    }

    /// <summary>Half-open handshakes counted from a source prefix, across tenants.</summary>
    public int FromSource(DtlsSourcePrefix source)
    {
        lock (_lock)
        {
            return _bySource.GetValueOrDefault(source);
        }
    }

    /// <summary>Half-open handshakes counted for a tenant from a source prefix.</summary>
    public int ForTenantFromSource(string tenantId, DtlsSourcePrefix source)
    {
        lock (_lock)
        {
            return _byTenantSource.GetValueOrDefault((tenantId, source));
        }
    }

    private static void Decrement<TKey>(Dictionary<TKey, int> counts, TKey key)
        where TKey : notnull
    {
        if (counts.TryGetValue(key, out var count))
        {
            if (count <= 1)
            {
                counts.Remove(key);
            }
            else
            {
                counts[key] = count - 1;
            }
        }
    }

    /// <summary>What one session is counted in; changed only under the limits' lock.</summary>
    internal sealed class Slot(DtlsSourcePrefix source)
    {
        public DtlsSourcePrefix Source { get; } = source;

        /// <summary>The tenant the handshake is counted for; null while unassigned.</summary>
        public string? TenantId { get; set; }

        public bool Released { get; set; }
    }
}
