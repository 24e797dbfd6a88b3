using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Platform.Gateway.Hosting;

namespace Platform.Gateway.Admission;

/// <summary>
/// Forward-confirmed host names of client addresses, for access lists with host-name entries.
/// <see cref="Lookup"/> never waits on DNS: an address without a live answer is <see cref="ReverseDnsAnswer.Unknown"/>
/// and a lookup is started in the background, if the tenant's and the gateway's limits allow one (lookups running at
/// once and started per second), so that a flood of source addresses cannot turn the gateway into a DNS load
/// generator or use up another tenant's lookups. Answers are kept for their TTL bounded to
/// <see cref="MinTimeToLive"/>..<see cref="MaxTimeToLive"/>, negative ones too; a failed lookup is retried after
/// <see cref="FailureRetry"/>. At most <see cref="GatewayOptions.ReverseDnsCacheEntries"/> addresses are kept.
/// </summary>
internal sealed partial class ReverseDnsCache : IDisposable
{
    public static readonly TimeSpan MinTimeToLive = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan MaxTimeToLive = TimeSpan.FromHours(1);
    public static readonly TimeSpan FailureRetry = TimeSpan.FromSeconds(10);

    private readonly IReverseDnsResolver _resolver;
    private readonly TimeProvider _time;
    private readonly ILogger<ReverseDnsCache> _logger;
    private readonly GatewayOptions _options;
    private readonly ConcurrentDictionary<IPAddress, Entry> _entries = new();
    // Addresses with a lookup running: at most ReverseDnsLookupsInFlight of them.
    private readonly ConcurrentDictionary<IPAddress, byte> _running = new();
    private readonly ConcurrentDictionary<Guid, Budget> _tenants = new();
    private readonly Budget _gateway;
    private readonly Lock _evictionLock = new();
    private readonly CancellationTokenSource _stopping = new();
    // Taken once: lookups still finishing after Dispose see a cancelled token, not a disposed source.
    private readonly CancellationToken _stoppingToken;
    private long _started;

    public ReverseDnsCache(IReverseDnsResolver resolver, IOptions<GatewayOptions> options, TimeProvider time, ILogger<ReverseDnsCache> logger)
    {
        _resolver = resolver;
        _time = time;
        _logger = logger;
        _options = options.Value;
        _stoppingToken = _stopping.Token;
        _gateway = new Budget(_options.ReverseDnsLookupsInFlight, new TokenBucket(time, _options.ReverseDnsLookupsPerSecond));
    }

    /// <summary>
    /// The confirmed names of <paramref name="address"/> if a live answer is cached; otherwise
    /// <see cref="ReverseDnsAnswer.Unknown"/>, and a lookup charged to <paramref name="tenantId"/> starts when none is
    /// running and the limits allow it. A cached answer in the last quarter of its life is refreshed the same way.
    /// </summary>
    public ReverseDnsAnswer Lookup(Guid tenantId, IPAddress address)
    {
        var now = _time.GetUtcNow();
        if (_entries.TryGetValue(address, out var entry) && entry.ExpiresAt > now)
        {
            if (!entry.Known)
            {
                return ReverseDnsAnswer.Unknown;
            }

            if (now >= entry.RefreshAt)
            {
                TryStart(tenantId, address);
            }

            return new ReverseDnsAnswer(true, entry.Names);
        }

        TryStart(tenantId, address);
        return ReverseDnsAnswer.Unknown;
    }

    /// <summary>Addresses whose answer (or failure) is kept.</summary>
    internal int Count => _entries.Count;

    /// <summary>Lookups running now.</summary>
    internal int Running => _running.Count;

    /// <summary>Lookups started since the cache was created.</summary>
    internal long LookupsStarted => Interlocked.Read(ref _started);

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    private void TryStart(Guid tenantId, IPAddress address)
    {
        if (_stoppingToken.IsCancellationRequested || !_running.TryAdd(address, 0))
        {
            return;
        }

        var tenant = _tenants.GetOrAdd(tenantId, static (_, options) => new Budget(
            options.Opts.ReverseDnsLookupsInFlightPerTenant, new TokenBucket(options.Time, options.Opts.ReverseDnsLookupsPerSecondPerTenant)), (Opts: _options, Time: _time));

        // The tenant's own limits are checked first, so a tenant at its limit spends none of the gateway's.
        if (!tenant.TryEnter())
        {
            _running.TryRemove(address, out _);
            Log.LookupDeferred(_logger, address, tenantId, "tenant");
            return;
        }

        if (!_gateway.TryEnter())
        {
            tenant.Leave();
            _running.TryRemove(address, out _);
            Log.LookupDeferred(_logger, address, tenantId, "gateway");
            return;
        }

        Interlocked.Increment(ref _started);
        // Observed: ResolveAsync handles every outcome itself and never faults.
        _ = Task.Run(() => ResolveAsync(tenant, address));
    }

    private async Task ResolveAsync(Budget tenant, IPAddress address)
    {
        try
        {
            ReverseDnsResult result;
            try
            {
                result = await _resolver.ResolveAsync(address, _stoppingToken);
            }
            catch (OperationCanceledException) when (_stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // A fault of the resolver must not leave the address looking resolved; it is retried like a DNS error.
                Log.ResolverFault(_logger, address, ex);
                result = ReverseDnsResult.Failure(ex.GetType().Name);
            }

            Store(address, result);
        }
        finally
        {
            tenant.Leave();
            _gateway.Leave();
            // Removed after the answer is stored, so a lookup in between finds one or the other, never neither.
            _running.TryRemove(address, out _);
        }
    }

    private void Store(IPAddress address, ReverseDnsResult result)
    {
        var now = _time.GetUtcNow();
        Entry entry;
        if (result.Outcome == ReverseDnsOutcome.Failed)
        {
            Log.LookupFailed(_logger, address, result.Error ?? "");
            // A failed refresh does not cut short an answer that is still valid.
            if (_entries.TryGetValue(address, out var current) && current.Known && current.ExpiresAt > now)
            {
                return;
            }

            entry = new Entry(false, [], now + FailureRetry, now + FailureRetry);
        }
        else
        {
            var ttl = result.TimeToLive < MinTimeToLive ? MinTimeToLive : result.TimeToLive > MaxTimeToLive ? MaxTimeToLive : result.TimeToLive;
            entry = new Entry(true, result.Names, now + ttl, now + (ttl * 0.75));
        }

        if (!_entries.ContainsKey(address) && _entries.Count >= _options.ReverseDnsCacheEntries)
        {
            Evict(now);
        }

        _entries[address] = entry;
    }

    /// <summary>Drops expired answers, then, if that is not enough, the tenth of the rest that expires soonest.</summary>
    private void Evict(DateTimeOffset now)
    {
        lock (_evictionLock)
        {
            var capacity = _options.ReverseDnsCacheEntries;
            if (_entries.Count < capacity)
            {
                return;
            }

            foreach (var (address, entry) in _entries)
            {
                if (entry.ExpiresAt <= now)
                {
                    _entries.TryRemove(new KeyValuePair<IPAddress, Entry>(address, entry));
                }
            }

            var excess = _entries.Count - capacity + Math.Max(1, capacity / 10);
            if (excess <= 0)
            {
                return;
            }

            foreach (var (address, entry) in _entries.ToArray().OrderBy(static e => e.Value.ExpiresAt).Take(excess))
            {
                _entries.TryRemove(new KeyValuePair<IPAddress, Entry>(address, entry));
            }
        }
    }

    /// <summary>An answer (<see cref="Known"/>) or a failure kept until <see cref="ExpiresAt"/>.</summary>
    private sealed record Entry(bool Known, IReadOnlyList<string> Names, DateTimeOffset ExpiresAt, DateTimeOffset RefreshAt);

    /// <summary>Lookups running at once (a count against a ceiling) and started per second.</summary>
    private sealed class Budget(int maxInFlight, TokenBucket rate)
    {
        private int _inFlight;

        public bool TryEnter()
        {
            if (Interlocked.Increment(ref _inFlight) > maxInFlight)
            {
                Interlocked.Decrement(ref _inFlight);
                return false;
            }

            if (!rate.TryTake())
            {
                Interlocked.Decrement(ref _inFlight);
                return false;
            }

            return true;
        }

        public void Leave() => Interlocked.Decrement(ref _inFlight);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2101, Level = LogLevel.Debug, Message = "No host name known for {Address}: {Error}")]
        public static partial void LookupFailed(ILogger logger, IPAddress address, string error);

        [LoggerMessage(EventId = 2102, Level = LogLevel.Debug, Message = "Reverse lookup of {Address} for tenant {TenantId} not started: the {Scope}'s lookup limits are reached")]
        public static partial void LookupDeferred(ILogger logger, IPAddress address, Guid tenantId, string scope);

        [LoggerMessage(EventId = 2103, Level = LogLevel.Error, Message = "Reverse lookup of {Address} failed unexpectedly")]
        public static partial void ResolverFault(ILogger logger, IPAddress address, Exception exception);
    }
}
