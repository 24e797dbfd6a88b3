using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Platform.Gateway.Hosting;

/// <summary>
/// Hands the native heap's free pages back to the system after a burst. glibc keeps what its arenas (up to eight per
/// core, one taken by each thread that allocates) freed: the transient native allocations of thousands of
/// handshakes (OpenSSL, the cookie HMACs, the sockets) leave tens of MiB free but resident, which idle sessions then
/// appear to hold. Every <see cref="GatewayOptions.NativeHeapTrimCheckSeconds"/> this reads glibc's own count of free
/// bytes (mallinfo2); when they reach <see cref="GatewayOptions.NativeHeapTrimMinFreeMiB"/> it calls malloc_trim(0),
/// at most once per <see cref="GatewayOptions.NativeHeapTrimMinIntervalSeconds"/>. Nothing is freed that is in use:
/// the pages come back zeroed on their next use. Only on Linux with glibc; elsewhere it does nothing.
/// </summary>
internal sealed partial class NativeHeapTrim(IOptions<GatewayOptions> options, TimeProvider time, ILogger<NativeHeapTrim> logger) : BackgroundService
{
    private readonly GatewayOptions _options = options.Value;
    private long _lastTrim;
    private long _trims;

    /// <summary>Whether this process's C library has mallinfo2 and malloc_trim (glibc 2.33 or later).</summary>
    public static bool Available { get; } = Probe();

    /// <summary>Trims done so far.</summary>
    public long Trims => Interlocked.Read(ref _trims);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_options.NativeHeapTrimCheckSeconds == 0 || !Available)
        {
            return;
        }

        var every = TimeSpan.FromSeconds(_options.NativeHeapTrimCheckSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(every, time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (!stoppingToken.IsCancellationRequested)
            {
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
        if (Interlocked.Read(ref _trims) > 0 && time.GetElapsedTime(_lastTrim, now) < TimeSpan.FromSeconds(_options.NativeHeapTrimMinIntervalSeconds))
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

    /// <summary>Bytes glibc's arenas hold free (mallinfo2's <c>fordblks</c>), or 0 without glibc.</summary>
    internal static long FreeBytes() => Available ? (long)mallinfo2().Fordblks : 0;

    /// <summary>The process's resident set, from <c>/proc/self/statm</c> (pages, second field).</summary>
    internal static long ResidentBytes()
    {
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
    }
}
