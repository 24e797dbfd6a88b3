namespace Platform.Silo.Quotas;

/// <summary>
/// A tenant's leases as its quota grain holds them: per gateway the slots granted (as stored in <c>quota_leases</c>),
/// the connections it last reported in use and whether its unused slots are being reclaimed, plus short reservations
/// of reclaimed slots for the gateways that were short of them. <see cref="Decide"/> computes a grant without changing
/// anything; <see cref="Apply"/> records it once it is stored.
/// </summary>
/// <remarks>
/// The invariant: what the ledger counts for a gateway is never less than the slots that gateway may hold or fill.
/// A gateway reports <c>Held</c> and <c>InUse</c> when it asks, and holds no more until the answer arrives, so what
/// is stored for it is at least <c>max(Held, InUse)</c> (bounded by its previous grant). A lowered grant therefore
/// frees slots only from the sync after the gateway applied it, and never below its open connections.
/// </remarks>
internal sealed class QuotaLedger
{
    /// <summary>How long reclaimed slots stay reserved for the gateway that was short of them.</summary>
    public static readonly TimeSpan ReservationTime = TimeSpan.FromSeconds(5);

    /// <summary>A gateway holding unused slots is asked to sync again at most this often while a reclaim waits on it.</summary>
    public static readonly TimeSpan NotifyInterval = TimeSpan.FromSeconds(1);

    private readonly Dictionary<string, Share> _shares = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Reservation> _reservations = new(StringComparer.Ordinal);

    /// <summary>The <c>tenant_quotas.quota_version</c> the leases were last read or written at; -1 before the first load.</summary>
    public long Version { get; private set; } = -1;

    /// <summary>Slots granted per gateway, as stored.</summary>
    public IReadOnlyDictionary<string, int> Granted => _shares.ToDictionary(s => s.Key, s => s.Value.Granted, StringComparer.Ordinal);

    /// <summary>
    /// Replaces the granted slots with the stored leases read at <paramref name="version"/>. What gateways reported
    /// (in use, reclaims under way) is kept for the gateways that still hold a lease; it is not stored, and the next
    /// sync of each gateway refreshes it.
    /// </summary>
    public void Load(long version, IEnumerable<(string GatewayId, int Slots)> leases)
    {
        var stored = leases.ToDictionary(l => l.GatewayId, l => l.Slots, StringComparer.Ordinal);
        foreach (var gone in _shares.Keys.Where(g => !stored.ContainsKey(g)).ToList())
        {
            _shares.Remove(gone);
        }

        foreach (var (gatewayId, slots) in stored)
        {
            var share = ShareOf(gatewayId);
            share.Granted = slots;
        }

        Version = version;
    }

    /// <summary>Forgets everything: the next grant reloads from PostgreSQL.</summary>
    public void Invalidate()
    {
        _shares.Clear();
        _reservations.Clear();
        Version = -1;
    }

    /// <summary>Computes the grant for one request against <paramref name="max"/>; changes nothing.</summary>
    public QuotaDecision Decide(QuotaRequest request, int max, DateTimeOffset now)
    {
        var gatewayId = request.GatewayId;
        _shares.TryGetValue(gatewayId, out var share);
        var previous = share?.Granted ?? 0;
        var reports = request.Held is not null;

        // What the gateway may hold or fill until it applies this answer: it holds no more than it reported, and never
        // more than it was granted (local fail-static slots beyond a grant are not the silo's to count). A gateway that
        // does not report is stored at its answer, as before reports existed, and is never reclaimed from.
        var footprint = reports ? Math.Max(0, Math.Min(previous, Math.Max(request.Held!.Value, request.InUse))) : 0;

        var others = 0;
        var unusedElsewhere = 0;
        var unknownElsewhere = false;
        foreach (var (id, other) in _shares)
        {
            if (id != gatewayId)
            {
                others += other.Granted;
                unusedElsewhere += other.Unused;
                unknownElsewhere |= other.Unknown;
            }
        }

        var reservedForOthers = 0;
        foreach (var (id, reservation) in _reservations)
        {
            if (id != gatewayId && reservation.Until > now)
            {
                reservedForOthers += reservation.Slots;
            }
        }

        var available = max - others - reservedForOthers;
        var cap = request.Slots;
        if (share is { Reclaiming: true } && reports)
        {
            // The unused slots go back: the grant falls to what is in use (or less, if less is wanted).
            cap = Math.Min(cap, request.InUse);
        }

        var answer = Math.Max(0, Math.Min(cap, available));
        // Never below the connections the gateway has open (up to its grant): a grant cannot close connections.
        answer = Math.Max(answer, Math.Min(Math.Min(request.InUse, request.Slots), previous));
        var stored = Math.Max(answer, footprint);

        var shortfall = request.Slots - answer;
        var reclaimable = Math.Max(0, unusedElsewhere - reservedForOthers);
        var reserve = 0;
        var reclaimFrom = new List<string>();
        if (shortfall > 0 && reports && request.Waiting > 0 && (reclaimable > 0 || unknownElsewhere))
        {
            reserve = Math.Min(shortfall, reclaimable);
            foreach (var (id, other) in _shares)
            {
                // A gateway that has not synced since the leases were loaded (a new activation, after its silo died)
                // may hold unused slots too: it is asked to report them.
                if (id != gatewayId && (other.Unused > 0 || other.Unknown) && (!other.Reclaiming || now - other.NotifiedAt >= NotifyInterval))
                {
                    reclaimFrom.Add(id);
                }
            }
        }

        var reclaiming = shortfall > 0 && reports && (reserve > 0 || reclaimable > 0 || (request.Waiting > 0 && unknownElsewhere));
        var reclaimDone = share is { Reclaiming: true } && footprint <= answer;
        return new QuotaDecision(gatewayId, previous, stored, answer, reclaiming, reserve, reclaimFrom, request.InUse, reports, reclaimDone);
    }

    /// <summary>Records a decision once its grant is stored at <paramref name="version"/>.</summary>
    public void Apply(QuotaDecision decision, long version, DateTimeOffset now)
    {
        var share = ShareOf(decision.GatewayId);
        share.Granted = decision.Stored;
        share.InUse = decision.Reports ? decision.InUse : null;
        share.Synced = true;
        if (decision.ReclaimDone)
        {
            share.Reclaiming = false;
        }

        if (share.Granted == 0 && !share.Reclaiming)
        {
            _shares.Remove(decision.GatewayId);
        }

        if (decision.Reserve > 0)
        {
            _reservations[decision.GatewayId] = new Reservation(decision.Reserve, now + ReservationTime);
        }
        else if (!decision.Reclaiming)
        {
            _reservations.Remove(decision.GatewayId);
        }

        foreach (var id in decision.ReclaimFrom)
        {
            var other = _shares[id];
            other.Reclaiming = true;
            other.NotifiedAt = now;
        }

        foreach (var expired in _reservations.Where(r => r.Value.Until <= now).Select(r => r.Key).ToList())
        {
            _reservations.Remove(expired);
        }

        Version = version;
    }

    private Share ShareOf(string gatewayId)
    {
        if (!_shares.TryGetValue(gatewayId, out var share))
        {
            share = new Share();
            _shares[gatewayId] = share;
        }

        return share;
    }

    private sealed class Share
    {
        public int Granted;

        /// <summary>Last reported; null until the gateway reports (its slots then count as used).</summary>
        public int? InUse;

        public bool Reclaiming;

        public DateTimeOffset NotifiedAt;

        /// <summary>Whether the gateway has synced with this ledger since its lease was loaded.</summary>
        public bool Synced;

        public int Unused => InUse is { } inUse ? Math.Max(0, Granted - inUse) : 0;

        /// <summary>Holds slots loaded from PostgreSQL and has not synced since: how many it uses is not known yet.</summary>
        public bool Unknown => !Synced && Granted > 0;
    }

    private sealed record Reservation(int Slots, DateTimeOffset Until);
}
