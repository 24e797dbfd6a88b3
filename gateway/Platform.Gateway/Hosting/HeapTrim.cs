using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Platform.Gateway.Hosting;

/// <summary>
/// Hands what a burst of connections left free in the gateway's two heaps back to the system. The native heap: glibc
/// keeps what its arenas (up to eight per core, one taken by each thread that allocates) freed; the transient native
/// allocations of thousands of handshakes (OpenSSL, the cookie HMACs, the sockets) leave tens of MiB free but
/// resident, which idle sessions then appear to hold. Every <see cref="GatewayOptions.NativeHeapTrimCheckSeconds"/> this reads glibc's own count of free
/// bytes (mallinfo2); when they reach <see cref="GatewayOptions.NativeHeapTrimMinFreeMiB"/> it calls malloc_trim(0),
/// at most once per <see cref="GatewayOptions.NativeHeapTrimMinIntervalSeconds"/>. Nothing is freed that is in use:
/// the pages come back zeroed on their next use. Only on Linux with glibc; elsewhere it does nothing.
/// <para>
/// The managed heap keeps a burst's garbage too: objects promoted to generation 2 during thousands of handshakes die
/// there, and without a full collection the GC keeps their regions committed (about 20 MiB after 10000 BouncyCastle
/// handshakes). The same checks compare the GC's committed bytes with the least they were since the last compacting
/// collection (or since start); once they have grown by <see cref="GatewayOptions.ManagedHeapTrimMinGrowthMiB"/> and did not
/// change since the previous check (the burst is over), one compacting collection that decommits what it frees runs
/// (<see cref="GCCollectionMode.Aggressive"/>), at most once per <see cref="GatewayOptions.ManagedHeapTrimMinIntervalSeconds"/>.
/// It pauses managed threads for a full compacting collection (log event 1702 gives its length), which is why it
/// waits for the heap to settle and is rare. <see cref="GatewayOptions.NativeHeapTrimCheckSeconds"/> = 0 turns both off.
/// </para>
/// </summary>
internal sealed partial class HeapTrim(IOptions<GatewayOptions> options, TimeProvider time, ILogger<HeapTrim> logger, HeapTrim.IManagedHeap managedHeap)
    : BackgroundService
{
    private readonly GatewayOptions _options = options.Value;
    private long _lastTrim;
    private long _trims;
    private long _lastCompaction;
    private long _compactions;
    private long _baseCommitted = -1;
    private long _previousCommitted = -1;

    public HeapTrim(IOptions<GatewayOptions> options, TimeProvider time, ILogger<HeapTrim> logger)
        : this(options, time, logger, GcHeap.Instance)
    {
    }

    /// <summary>The managed heap as the compaction sees it: the GC's committed bytes, and one compacting collection.</summary>
    internal interface IManagedHeap
    {
        /// <summary>The committed bytes the last collection left (0 before the first).</summary>
        long Committed();

        /// <summary>One blocking, compacting collection of every generation that decommits what it frees.</summary>
        void Compact();
    }

    /// <summary>Whether this process's C library has mallinfo2 and malloc_trim (glibc 2.33 or later).</summary>
    public static bool Available { get; } = Probe();

    /// <summary>Trims done so far.</summary>
    public long Trims => Interlocked.Read(ref _trims);

    /// <summary>Compacting collections of the managed heap done so far.</summary>
    public long Compactions => Interlocked.Read(ref _compactions);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_options.NativeHeapTrimCheckSeconds == 0)
        {
            return;
        }

        // The managed heap's base is taken now, before any burst of connections, and lowered by later checks.
        CompactIfWorthIt();
        var every = TimeSpan.FromSeconds(_options.NativeHeapTrimCheckSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(every, time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (!stoppingToken.IsCancellationRequested)
            {
                CompactIfWorthIt();
                TrimIfWorthIt();
            }
        }
    }

    /// <summary>One check: trims when glibc holds enough free bytes and the last trim is long enough ago; returns whether it trimmed.</summary>
    internal bool TrimIfWorthIt()
    {
        if (!Available)
        {
            return false;
        }

        var free = FreeBytes();
        if (free < (long)_options.NativeHeapTrimMinFreeMiB << 20)
        {
            return false;
        }

        var now = time.GetTimestamp();
        if (!MayRunAgain(Interlocked.Read(ref _trims), _lastTrim, _options.NativeHeapTrimMinIntervalSeconds, now))
        {
            return false;
        }

        var rssBefore = ResidentBytes();
        var watch = Stopwatch.StartNew();
        var released = malloc_trim(0) == 1;
        watch.Stop();
        var rssAfter = ResidentBytes();
        _lastTrim = now;
        Interlocked.Increment(ref _trims);
        Log.Trimmed(logger, free >> 20, released, rssBefore >> 20, rssAfter >> 20, watch.Elapsed.TotalMilliseconds);
        return true;
    }

    /// <summary>
    /// One check of the managed heap: runs a compacting, decommitting collection when the GC's committed bytes have
    /// grown by the configured amount over the least seen since the last one and are unchanged since the previous check; returns whether
    /// it ran.
    /// </summary>
    internal bool CompactIfWorthIt()
    {
        if (_options.ManagedHeapTrimMinGrowthMiB == 0)
        {
            return false;
        }

        var committed = managedHeap.Committed();
        if (committed == 0)
        {
            return false; // no collection yet: nothing known
        }

        var previous = _previousCommitted;
        _previousCommitted = committed;
        if (_baseCommitted < 0 || committed < _baseCommitted)
        {
            _baseCommitted = committed;
            return false;
        }

        if (committed - _baseCommitted < (long)_options.ManagedHeapTrimMinGrowthMiB << 20 || committed != previous)
        {
            return false;
        }

        var now = time.GetTimestamp();
        if (!MayRunAgain(Interlocked.Read(ref _compactions), _lastCompaction, _options.ManagedHeapTrimMinIntervalSeconds, now))
        {
            return false;
        }

        var rssBefore = ResidentBytes();
        var watch = Stopwatch.StartNew();
        managedHeap.Compact();
        watch.Stop();
        var after = managedHeap.Committed();
        _baseCommitted = after;
        _previousCommitted = after;
        _lastCompaction = now;
        Interlocked.Increment(ref _compactions);
        var rssAfter = ResidentBytes();
        Log.Compacted(logger, committed >> 20, after >> 20, rssBefore >> 20, rssAfter >> 20, watch.Elapsed.TotalMilliseconds);
        return true;
    }

    /// <summary>Whether a step done <paramref name="done"/> times so far, last at <paramref name="last"/>, may run again at <paramref name="now"/>.</summary>
    private bool MayRunAgain(long done, long last, int minIntervalSeconds, long now) =>
        done == 0 || time.GetElapsedTime(last, now) >= TimeSpan.FromSeconds(minIntervalSeconds);

    /// <summary>The GC's heap of this process.</summary>
    internal sealed class GcHeap : IManagedHeap
    {
        public static readonly GcHeap Instance = new();

        public long Committed() => GC.GetGCMemoryInfo(GCKind.Any).TotalCommittedBytes;

        public void Compact() => GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }

    /// <summary>Bytes glibc's arenas hold free (mallinfo2's <c>fordblks</c>), or 0 without glibc.</summary>
    internal static long FreeBytes() => Available ? (long)mallinfo2().Fordblks : 0;

    /// <summary>The process's resident set, from <c>/proc/self/statm</c> (pages, second field); 0 off Linux.</summary>
    internal static long ResidentBytes()
    {
        if (!OperatingSystem.IsLinux())
        {
            return 0;
        }

        var fields = File.ReadAllText("/proc/self/statm").Split(' ');
        return long.Parse(fields[1], CultureInfo.InvariantCulture) * Environment.SystemPageSize;
    }

    private static bool Probe()
    {
        if (!OperatingSystem.IsLinux() || !NativeLibrary.TryLoad("libc.so.6", out var libc))
        {
            return false;
        }

        return NativeLibrary.TryGetExport(libc, "mallinfo2", out _) && NativeLibrary.TryGetExport(libc, "malloc_trim", out _);
    }

    [LibraryImport("libc.so.6")]
    private static partial int malloc_trim(nuint pad);

    [LibraryImport("libc.so.6")]
    private static partial Mallinfo2 mallinfo2();

    /// <summary>glibc's <c>struct mallinfo2</c>: ten <c>size_t</c> fields.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private readonly struct Mallinfo2
    {
        public readonly nuint Arena;
        public readonly nuint Ordblks;
        public readonly nuint Smblks;
        public readonly nuint Hblks;
        public readonly nuint Hblkhd;
        public readonly nuint Usmblks;
        public readonly nuint Fsmblks;
        public readonly nuint Uordblks;
        public readonly nuint Fordblks;
        public readonly nuint Keepcost;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1701, Level = LogLevel.Information, Message = "Native heap trimmed: {FreeMiB} MiB were free in glibc's arenas, pages released: {Released}; RSS {RssBeforeMiB} -> {RssAfterMiB} MiB; malloc_trim took {Milliseconds:F1} ms")]
        public static partial void Trimmed(ILogger logger, long freeMiB, bool released, long rssBeforeMiB, long rssAfterMiB, double milliseconds);

        [LoggerMessage(EventId = 1702, Level = LogLevel.Information, Message = "Managed heap compacted after it settled: GC committed {CommittedBeforeMiB} -> {CommittedAfterMiB} MiB; RSS {RssBeforeMiB} -> {RssAfterMiB} MiB; the collection paused managed threads for {Milliseconds:F1} ms")]
        public static partial void Compacted(ILogger logger, long committedBeforeMiB, long committedAfterMiB, long rssBeforeMiB, long rssAfterMiB, double milliseconds);
    }
}
