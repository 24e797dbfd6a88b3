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
/// the last round trip, that many: a burst is met by larger grants instead of refusals. Held and
/// in-use counts live in one 64-bit word per tenant so a take never races a give-back: in use never
/// exceeds what the silo granted.
/// </summary>
internal sealed partial class LeaseManager : BackgroundService
{
    private readonly ConcurrentDictionary<Guid, TenantLease> _leases = new();
    private readonly ILeaseSyncClient _client;
    private readonly TenantSnapshotStore _store;
    private readonly ILogger<LeaseManager> _logger;
    private readonly int _batch;
    private readonly TimeSpan _interval;
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly TimeSpan _acquireWait;
    private TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public LeaseManager(ILeaseSyncClient client, TenantSnapshotStore store, IOptions<GatewayOptions> options, ILogger<LeaseManager> logger)
    {
        _client = client;
        _store = store;
        _logger = logger;
        _batch = options.Value.LeaseBatch;
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

        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(_acquireWait);
        while (_leases.TryGetValue(tenantId, out var lease) && !lease.Exhausted)
        {
            var synced = Volatile.Read(ref _synced).Task;
            RequestSync();
            try
            {
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

    /// <summary>Slots held and in use for a tenant.</summary>
    public (int Held, int InUse) Get(Guid tenantId) =>
        _leases.TryGetValue(tenantId, out var lease) ? Split(Volatile.Read(ref lease.State)) : (0, 0);

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
            var batch = Math.Max(_batch, (int)Math.Min(Interlocked.Exchange(ref lease.Demand, 0), max));
            int want;
            var free = held - inUse;
            if (tenant is null || tenant.Suspended)
            {
                want = inUse;
            }
            else if (free < (batch + 1) / 2 || free > 2 * batch || held > max)
            {
                want = Math.Min(max, inUse + batch);
            }
            else
            {
                continue;
            }

            want = Math.Max(want, 0);
            if (want < held)
            {
                want = Lower(lease, want);
            }

            if (want != held || lease.Pending)
            {
                wants.Add(new LeaseWant(tenantId, want));
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
        foreach (var grant in response.Leases)
        {
            if (!_leases.TryGetValue(grant.TenantId, out var lease))
            {
                continue;
            }

            lease.Pending = false;
            lease.Exhausted = grant.Slots < asked.GetValueOrDefault(grant.TenantId) || grant.Slots >= grant.MaxConnections;
            while (true)
            {
                var state = Volatile.Read(ref lease.State);
                var (_, inUse) = Split(state);
                if (Interlocked.CompareExchange(ref lease.State, Join(grant.Slots, inUse), state) == state)
                {
                    break;
                }
            }

            if (grant.Slots == 0 && inUseOf(lease) == 0 && !snapshot.ById.ContainsKey(grant.TenantId))
            {
                _leases.TryRemove(grant.TenantId, out _);
            }
        }

        static int inUseOf(TenantLease lease) => Split(Volatile.Read(ref lease.State)).InUse;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await _signal.WaitAsync(_interval, stoppingToken);
                await SyncOnceAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is HttpRequestException or Silo.SiloException or TaskCanceledException or System.Text.Json.JsonException)
            {
                Log.SyncFailed(_logger, ex.Message);
                await Task.Delay(_interval, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    public override void Dispose()
    {
        _signal.Dispose();
        base.Dispose();
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
        public volatile bool Pending;

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
    }
}
