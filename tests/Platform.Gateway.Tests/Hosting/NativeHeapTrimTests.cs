using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Platform.Gateway.Hosting;
using Platform.Testing;

namespace Platform.Gateway.Tests.Hosting;

/// <summary>
/// The native heap trim against this process's real glibc heap: holes freed inside an arena stay resident until a
/// trim hands them back; trims are bounded by the free bytes and the interval. The managed heap's compaction against
/// this process's real GC heap.
/// </summary>
public sealed class NativeHeapTrimTests
{
    private const int Block = 32 * 1024;
    private const int Blocks = 2048;

    [Fact]
    public void TrimIfWorthIt_HolesFreedInTheArena_ResidentPagesGoBack()
    {
        Assert.True(NativeHeapTrim.Available, "this Linux has glibc 2.33 or later (Debian 12: 2.36)");
        var time = new ManualTimeProvider();
        var trim = Create(time, minFreeMiB: 16);
        // What earlier work left free in this process is handed back first, so the holes below are what the trim finds.
        trim.TrimIfWorthIt();
        time.Advance(TimeSpan.FromSeconds(300));
        var trimsBefore = trim.Trims;

        var kept = Holes();
        try
        {
            Assert.True(NativeHeapTrim.FreeBytes() >= 32L << 20, $"free bytes after freeing 32 MiB of holes: {NativeHeapTrim.FreeBytes()}");
            var before = NativeHeapTrim.ResidentBytes();

            Assert.True(trim.TrimIfWorthIt());

            // The holes (32 MiB, every page written; about 28 MiB of whole pages inside them) leave the resident set,
            // and stay free for glibc. Other tests of this process may grow it meanwhile, hence the margin.
            var after = NativeHeapTrim.ResidentBytes();
            Assert.True(before - after >= 16L << 20, $"RSS {before >> 20} -> {after >> 20} MiB");
            Assert.Equal(trimsBefore + 1, trim.Trims);
        }
        finally
        {
            foreach (var block in kept)
            {
                Marshal.FreeHGlobal(block);
            }
        }
    }

    [Fact]
    public void TrimIfWorthIt_BoundedByTheIntervalAndTheFreeBytes()
    {
        var time = new ManualTimeProvider();
        var kept = Holes();
        try
        {
            // Less free than the threshold: no trim.
            Assert.False(Create(time, minFreeMiB: 65536).TrimIfWorthIt());

            var trim = Create(time, minFreeMiB: 16);
            Assert.True(trim.TrimIfWorthIt());

            // Still as much free (a trim keeps the chunks free), but the interval has not passed.
            Assert.False(trim.TrimIfWorthIt());
            time.Advance(TimeSpan.FromSeconds(299));
            Assert.False(trim.TrimIfWorthIt());
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.True(trim.TrimIfWorthIt());
            Assert.Equal(2, trim.Trims);
        }
        finally
        {
            foreach (var block in kept)
            {
                Marshal.FreeHGlobal(block);
            }
        }
    }

    [Fact]
    public void CompactIfWorthIt_HeapGrewAndSettled_CompactsAndDecommits_OncePerInterval()
    {
        var time = new ManualTimeProvider();
        var trim = new NativeHeapTrim(
            Options.Create(new GatewayOptions { ManagedHeapTrimMinGrowthMiB = 32, ManagedHeapTrimMinIntervalSeconds = 600 }),
            time,
            NullLogger<NativeHeapTrim>.Instance);
        GC.Collect();
        Assert.False(trim.CompactIfWorthIt()); // the first check only takes the committed bytes as its base

        var before = GrowAndDrop(trim);
        Assert.True(CheckUntilCompacted(trim), "no compaction after the heap grew by 96 MiB and settled");
        var after = Committed();
        Assert.True(before - after >= 48L << 20, $"GC committed {before >> 20} -> {after >> 20} MiB");
        Assert.Equal(1, trim.Compactions);

        // Grown and settled again, but within the interval: nothing; once it has passed, the next compaction.
        GrowAndDrop(trim);
        Assert.False(CheckUntilCompacted(trim));
        time.Advance(TimeSpan.FromSeconds(600));
        Assert.True(CheckUntilCompacted(trim));
        Assert.Equal(2, trim.Compactions);

        // Off: never.
        var off = new NativeHeapTrim(Options.Create(new GatewayOptions { ManagedHeapTrimMinGrowthMiB = 0 }), time, NullLogger<NativeHeapTrim>.Instance);
        GrowAndDrop(off);
        Assert.False(CheckUntilCompacted(off));
    }

    /// <summary>
    /// Grows the managed heap by 96 MiB of small arrays kept through a full non-compacting collection (they reach
    /// generation 2, as a burst's survivors do), checks once while it grows, then drops them; returns the committed bytes.
    /// </summary>
    private static long GrowAndDrop(NativeHeapTrim trim)
    {
        var arrays = new byte[12288][];
        for (var i = 0; i < arrays.Length; i++)
        {
            arrays[i] = new byte[8 * 1024];
        }

        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: false);
        Assert.False(trim.CompactIfWorthIt()); // still growing: the committed bytes changed since the previous check
        GC.KeepAlive(arrays);
        return Committed();
    }

    /// <summary>Checks a few times in a row (other tests of this process may collect between two checks).</summary>
    private static bool CheckUntilCompacted(NativeHeapTrim trim)
    {
        for (var i = 0; i < 20; i++)
        {
            if (trim.CompactIfWorthIt())
            {
                return true;
            }
        }

        return false;
    }

    private static long Committed() => GC.GetGCMemoryInfo(GCKind.Any).TotalCommittedBytes;

    /// <summary>Allocates 64 MiB in 32 KiB blocks (below glibc's mmap threshold, so from an arena), writes every page, frees every other block; returns those kept.</summary>
    private static List<IntPtr> Holes()
    {
        var pattern = new byte[Block];
        Array.Fill(pattern, (byte)0x5A);
        var blocks = new IntPtr[Blocks];
        for (var i = 0; i < Blocks; i++)
        {
            blocks[i] = Marshal.AllocHGlobal(Block);
            Marshal.Copy(pattern, 0, blocks[i], Block);
        }

        var kept = new List<IntPtr>();
        for (var i = 0; i < Blocks; i++)
        {
            if (i % 2 == 0)
            {
                Marshal.FreeHGlobal(blocks[i]);
            }
            else
            {
                kept.Add(blocks[i]);
            }
        }

        return kept;
    }

    private static NativeHeapTrim Create(TimeProvider time, int minFreeMiB) =>
        new(Options.Create(new GatewayOptions { NativeHeapTrimMinFreeMiB = minFreeMiB, NativeHeapTrimMinIntervalSeconds = 300 }), time, NullLogger<NativeHeapTrim>.Instance);
}
