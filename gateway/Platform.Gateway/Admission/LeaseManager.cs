using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Platform.Contracts.Internal;
using Platform.Gateway.Hosting;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Admission;

/// <summary>
/// MaxConnections slots leased from the silo, per tenant. Admission takes a slot from memory; a
/// background loop asks for another batch when free slots fall below half a batch and gives back
/// slots beyond two batches. A batch is the configured size or, when more connections arrived since
/// the last round trip, twice that many: a burst is met by larger grants instead of refusals. A tenant
/// with no connection here and none arriving since the last round is idle: the gateway holds
/// <c>LeaseIdleSlots</c> of it and gives back the rest, so slots sit where the connections are. Held and
/// in-use counts live in one 64-bit word per tenant so a take never races a give-back: in use never
/// exceeds what the silo granted.
/// Every want reports what is held and in use and how many connections found no free slot; with that the
/// silo reclaims unused slots of other gateways for this one (its answer then says <c>Reclaiming</c>, and
/// waiting connections ask again every <see cref="ReclaimRetry"/>), and it may lower this gateway's grant
/// for another one: the held count drops at once, and the next round, sent at once, confirms it.
/// Fail-static: a gateway that has not had one lease answer since it started and cannot reach the silo
/// holds local slots up to each tenant's MaxConnections, so a snapshot loaded from disk is served at
/// once. Each such gateway then enforces MaxConnections on its own; the first answer from the silo
/// replaces the local slots, and a gateway holding more connections than it is granted admits no more
/// until enough have closed.
/// </summary>
internal sealed partial class LeaseManager : BackgroundService
{
    /// <summary>How often connections waiting for slots the silo is reclaiming for this gateway ask again.</summary>
    public static readonly TimeSpan ReclaimRetry = TimeSpan.FromMilliseconds(75);

    private readonly ConcurrentDictionary<Guid, TenantLease> _leases = new();
    private readonly ILeaseSyncClient _client;
    private readonly TenantSnapshotStore _store;
    private readonly ILogger<LeaseManager> _logger;
    private readonly GatewayMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly int _batch;
    private readonly int _idleSlots;
    private readonly TimeSpan _interval;
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly TimeSpan _acquireWait;
    private TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _siloAnswered;
    private volatile bool _failStatic;

    public LeaseManager(
        ILeaseSyncClient client, TenantSnapshotStore store, IOptions<GatewayOptions> options, GatewayMetrics metrics, TimeProvider time, ILogger<LeaseManager> logger)
    {
        _client = client;
        _store = store;
        _logger = logger;
        _metrics = metrics;
        _time = time;
        _batch = options.Value.LeaseBatch;
        _idleSlots = options.Value.LeaseIdleSlots;
        _interval = TimeSpan.FromMilliseconds(options.Value.LeaseSyncMilliseconds);
        _acquireWait = TimeSpan.FromMilliseconds(options.Value.LeaseWaitMilliseconds);
        _store.Changed += (_, _) => RequestSync();
    }

    /// <summary>Takes a slot for the tenant if one is free.</summary>
    public bool TryAcquire(Guid tenantId)
    {
        var lease = _leases.GetOrAdd(tenantId, static _ => new TenantLease());
        Interlocked.Increment(ref lease.Demand);
        while (true)
        {
            var state = Volatile.Read(ref lease.State);
            var (held, inUse) = Split(state);
            if (inUse >= held)
            {
                Interlocked.Increment(ref lease.Missed);
                RequestSync();
                return false;
            }

            if (Interlocked.CompareExchange(ref lease.State, Join(held, inUse + 1), state) == state)
            {
                if (held - inUse - 1 < (_batch + 1) / 2)
                {
                    RequestSync();
                }

                return true;
            }
        }
    }

    /// <summary>
    /// Takes a slot, waiting for the lease round trip in flight when the local slots ran out but the silo
    /// has not said the tenant is at its MaxConnections (a burst outran the last grant). Gives up after
    /// the configured wait, or at once when the last grant was short of what was asked.
    /// </summary>
    public async ValueTask<bool> AcquireAsync(Guid tenantId, CancellationToken cancellationToken)
    {
        if (TryAcquire(tenantId))
        {
            return true;
        }

        var waiting = _leases.GetOrAdd(tenantId, static _ => new TenantLease());
        Interlocked.Increment(ref waiting.Waiters);
        var started = _time.GetTimestamp();
        var outcome = "abandoned";
        try
        {
            var acquired = await WaitAndAcquireAsync(tenantId, cancellationToken);
            outcome = acquired ? "acquired" : "refused";
            return acquired;
        }
        finally
        {
            Interlocked.Decrement(ref waiting.Waiters);
            _metrics.LeaseWaited(outcome, _time.GetElapsedTime(started));
        }
    }

    private async ValueTask<bool> WaitAndAcquireAsync(Guid tenantId, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(_acquireWait);
        while (_leases.TryGetValue(tenantId, out var lease) && !lease.Exhausted)
        {
            try
            {
                if (lease.Reclaiming)
                {
                    // The silo is freeing slots held unused elsewhere: ask again shortly, not in a tight loop.
                    await Task.Delay(ReclaimRetry, limit.Token);
                }

                var synced = Volatile.Read(ref _synced).Task;
                RequestSync();
                await synced.WaitAsync(limit.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return TryAcquire(tenantId);
            }

            if (TryAcquire(tenantId))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Whether a lease round trip may still bring the tenant a slot: false once the silo's last grant was
    /// short of what was asked, or this gateway holds the tenant's whole MaxConnections.
    /// </summary>
    public bool MayGrantSoon(Guid tenantId) => _leases.TryGetValue(tenantId, out var lease) && !lease.Exhausted;

    /// <summary>Returns a slot taken by <see cref="TryAcquire"/>.</summary>
    public void Release(Guid tenantId)
    {
        if (!_leases.TryGetValue(tenantId, out var lease))
        {
            return;
        }

        while (true)
        {
            var state = Volatile.Read(ref lease.State);
            var (held, inUse) = Split(state);
            if (Interlocked.CompareExchange(ref lease.State, Join(held, Math.Max(0, inUse - 1)), state) == state)
            {
                if (held - inUse + 1 > 2 * _batch)
                {
                    RequestSync();
                }

                return;
            }
        }
    }

    /// <summary>True while slots are local (fail-static): the silo has not answered since start and the last sync failed.</summary>
    public bool FailStatic => _failStatic;

    /// <summary>Slots held and in use over every tenant.</summary>
    public (long Held, long InUse) Totals()
    {
        long held = 0, inUse = 0;
        foreach (var lease in _leases.Values)
        {
            var (h, u) = Split(Volatile.Read(ref lease.State));
            held += h;
            inUse += u;
        }

        return (held, inUse);
    }

    /// <summary>Slots held and in use for a tenant.</summary>
    public (int Held, int InUse) Get(Guid tenantId) =>
        _leases.TryGetValue(tenantId, out var lease) ? Split(Volatile.Read(ref lease.State)) : (0, 0);

    /// <summary>The silo dropped this node's leases: the next round reports every lease held, whatever its state.</summary>
    public void ReportAll()
    {
        foreach (var lease in _leases.Values)
        {
            lease.Pending = true;
        }

        RequestSync();
    }

    /// <summary>The silo asks for these tenants' leases (it reclaims unused slots): the next round, at once, reports them.</summary>
    public void ReportNow(IEnumerable<Guid> tenantIds)
    {
        ArgumentNullException.ThrowIfNull(tenantIds);
        foreach (var tenantId in tenantIds)
        {
            if (_leases.TryGetValue(tenantId, out var lease))
            {
                lease.Pending = true;
            }
        }

        RequestSync();
    }

    public void RequestSync()
    {
        if (_signal.CurrentCount == 0)
        {
            try
            {
                _signal.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another caller signalled first; one pending sync covers both.
            }
        }
    }

    /// <summary>One round trip: lowers local holdings first, then asks the silo for the new totals.</summary>
    public async Task SyncOnceAsync(CancellationToken cancellationToken)
    {
        try
        {
            await SyncCoreAsync(cancellationToken);
        }
        finally
        {
            // Whatever the outcome, callers waiting in AcquireAsync look again.
            Interlocked.Exchange(ref _synced, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }
    }

    private async Task SyncCoreAsync(CancellationToken cancellationToken)
    {
        var snapshot = _store.Current;
        var wants = new List<LeaseWant>();
        foreach (var tenant in snapshot.ById.Values)
        {
            _leases.GetOrAdd(tenant.Id, static _ => new TenantLease());
        }

        foreach (var (tenantId, lease) in _leases)
        {
            snapshot.ById.TryGetValue(tenantId, out var tenant);
            var (held, inUse) = Split(Volatile.Read(ref lease.State));
            var max = tenant is null || tenant.Suspended ? 0 : tenant.Config.Limits.MaxConnections;
            var demand = Interlocked.Exchange(ref lease.Demand, 0);
            var missed = (int)Math.Min(Interlocked.Exchange(ref lease.Missed, 0), int.MaxValue);
            // Room for twice the connections that arrived since the last round: a burst still growing is met too.
            var batch = Math.Max(_batch, (int)Math.Min(2 * demand, max));
            int want;
            var free = held - inUse;
            if (tenant is null || tenant.Suspended)
            {
                want = inUse;
            }
            else if (inUse == 0 && demand == 0 && Volatile.Read(ref lease.Waiters) == 0)
            {
                // Idle here: a small share, so that the tenant's slots can be where its connections are.
                want = Math.Min(_idleSlots, max);
            }
            else if (free < (batch + 1) / 2 || free > 2 * batch || held > max)
            {
                want = Math.Min(max, inUse + batch);
            }
            else
            {
                // Nothing to change; reported anyway when not confirmed by the silo (a failed round, local fail-static
                // slots, a lowered grant, a request of the silo) or when the count in use moved since the last report.
                want = held;
            }

            want = Math.Max(want, 0);
            if (want < held)
            {
                want = Lower(lease, want);
            }

            // Held and in use as they are now: until the answer arrives the gateway holds no more than this.
            var (heldNow, inUseNow) = Split(Volatile.Read(ref lease.State));
            if (want != held || lease.Pending || inUseNow != lease.ReportedInUse)
            {
                // The silo reclaims what a gateway holds beyond its last reported use: that report must not go stale.
                lease.ReportedInUse = inUseNow;
                wants.Add(new LeaseWant(tenantId, want, inUseNow, heldNow, Math.Max(missed, Volatile.Read(ref lease.Waiters))));
            }
        }

        if (wants.Count == 0)
        {
            return;
        }

        var asked = new Dictionary<Guid, int>(wants.Count);
        foreach (var want in wants)
        {
            _leases[want.TenantId].Pending = true;
            asked[want.TenantId] = want.Slots;
        }

        var response = await _client.SyncLeasesAsync(new LeaseSyncRequest(wants), cancellationToken);
        _siloAnswered = true;
        _failStatic = false;
        var lowered = false;
        foreach (var grant in response.Leases)
        {
            if (!_leases.TryGetValue(grant.TenantId, out var lease))
            {
                continue;
            }

            lease.Pending = false;
            lease.Reclaiming = grant.Reclaiming;
            // Short of the ask while nothing can be reclaimed elsewhere: the tenant is at its MaxConnections.
            lease.Exhausted = !grant.Reclaiming && (grant.Slots < asked.GetValueOrDefault(grant.TenantId) || grant.Slots >= grant.MaxConnections);
            int heldBefore;
            while (true)
            {
                var state = Volatile.Read(ref lease.State);
                (heldBefore, var inUse) = Split(state);
                if (Interlocked.CompareExchange(ref lease.State, Join(grant.Slots, inUse), state) == state)
                {
                    break;
                }
            }

            _metrics.SlotsGranted(grant.Slots - heldBefore);
            if (grant.Slots < heldBefore)
            {
                // The silo lowered this grant for another gateway; it counts the slots free only once this gateway has
                // reported holding no more, so the next round reports at once.
                lease.Pending = true;
                lowered = true;
            }

            if (grant.Slots == 0 && inUseOf(lease) == 0 && !snapshot.ById.ContainsKey(grant.TenantId))
            {
                _leases.TryRemove(grant.TenantId, out _);
            }
        }

        if (lowered)
        {
            RequestSync();
        }

        static int inUseOf(TenantLease lease) => Split(Volatile.Read(ref lease.State)).InUse;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                // The first round runs at once: a gateway started from its saved snapshot learns without delay
                // whether it has slots from the silo or must serve from local ones.
                await SyncOnceAsync(stoppingToken);
                await _signal.WaitAsync(_interval, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Silo.GatewayUnknownException)
            {
                // Registration has not reached the silo yet (the first round races it) or the silo forgot this
                // node; the registration loop registers again. The silo answered, so this is no fail-static start.
                _siloAnswered = true;
                Log.NotRegistered(_logger);

                // The registration loop signals when it has registered.
                await ((Task)_signal.WaitAsync(_interval, stoppingToken)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            catch (Exception ex) when (Silo.SiloFailure.IsExpected(ex))
            {
                Log.SyncFailed(_logger, ex.Message);
                if (Silo.SiloFailure.IsAnswered(ex))
                {
                    // An error answer still proves the silo is there: only an unreachable silo means fail-static.
                    _siloAnswered = true;
                }
                else if (!_siloAnswered)
                {
                    HoldLocalSlots();
                }

                await Task.Delay(_interval, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    public override void Dispose()
    {
        _signal.Dispose();
        base.Dispose();
    }

    /// <summary>Fail-static: every active tenant of the current snapshot may use up to its MaxConnections on this gateway.</summary>
    internal void HoldLocalSlots()
    {
        foreach (var tenant in _store.Current.ById.Values)
        {
            if (tenant.Suspended)
            {
                continue;
            }

            var lease = _leases.GetOrAdd(tenant.Id, static _ => new TenantLease());

            // Pending: the next round that reaches the silo reports these slots, whatever their number.
            lease.Pending = true;
            while (true)
            {
                var state = Volatile.Read(ref lease.State);
                var (held, inUse) = Split(state);
                var local = Math.Max(held, tenant.Config.Limits.MaxConnections);
                if (local == held || Interlocked.CompareExchange(ref lease.State, Join(local, inUse), state) == state)
                {
                    break;
                }
            }
        }

        if (!_failStatic)
        {
            _failStatic = true;
            Log.FailStatic(_logger, _store.Current.ById.Count);
        }
    }

    /// <summary>Lowers the held count to <paramref name="want"/> but never below what is in use; returns the new held count.</summary>
    private static int Lower(TenantLease lease, int want)
    {
        while (true)
        {
            var state = Volatile.Read(ref lease.State);
            var (held, inUse) = Split(state);
            var target = Math.Min(held, Math.Max(want, inUse));
            if (Interlocked.CompareExchange(ref lease.State, Join(target, inUse), state) == state)
            {
                return target;
            }
        }
    }

    private static (int Held, int InUse) Split(long state) => ((int)(state >> 32), (int)(state & 0xFFFFFFFF));

    private static long Join(int held, int inUse) => ((long)held << 32) | (uint)inUse;

    private sealed class TenantLease
    {
        public long State;
        public long Demand;

        /// <summary>Connections waiting in <see cref="AcquireAsync"/> for a slot: while there are any the tenant is not idle.</summary>
        public int Waiters;

        /// <summary>In use as last reported to the silo; -1 before the first report.</summary>
        public int ReportedInUse = -1;

        /// <summary>Takes that found no free slot since the last round: connections waiting, deferred or refused.</summary>
        public long Missed;
        public volatile bool Pending;

        /// <summary>The last grant fell short while the silo reclaims unused slots of other gateways for this one.</summary>
        public volatile bool Reclaiming;

        /// <summary>
        /// The last grant was short of what was asked, or this gateway holds the whole MaxConnections: no
        /// round trip can give more until connections close.
        /// </summary>
        public volatile bool Exhausted;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2201, Level = LogLevel.Warning, Message = "Lease sync with the silo failed: {Error}; held slots stay in use")]
        public static partial void SyncFailed(ILogger logger, string error);

        [LoggerMessage(EventId = 2203, Level = LogLevel.Debug, Message = "Lease sync refused: this node is not registered (yet); retrying")]
        public static partial void NotRegistered(ILogger logger);

        [LoggerMessage(EventId = 2202, Level = LogLevel.Warning, Message = "No lease answer from the silo since start; serving {Count} tenants from local slots (MaxConnections enforced per gateway)")]
        public static partial void FailStatic(ILogger logger, int count);
    }
}
