using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Platform.Gateway.Hosting;
using Platform.Testing;

namespace Platform.Gateway.Tests.Hosting;

/// <summary>
/// The native heap trim against this process's real glibc heap: holes freed inside an arena stay resident until a
/// trim hands them back; trims are bounded by the free bytes and the interval. When the managed heap is compacted, against
/// a heap whose figures the test sets (what a compaction does to the real GC heap: <see cref="GcHeapTests"/>).
/// </summary>
public sealed class HeapTrimTests
{
    private const int Block = 32 * 1024;
    private const int Blocks = 2048;

    [Fact]
    public void TrimIfWorthIt_HolesFreedInTheArena_ResidentPagesGoBack()
    {
        Assert.True(HeapTrim.Available, "this Linux has glibc 2.33 or later (Debian 12: 2.36)");
        var time = new ManualTimeProvider();
        var trim = Create(time, minFreeMiB: 16);
        // What earlier work left free in this process is handed back first, so the holes below are what the trim finds.
        trim.TrimIfWorthIt();
        time.Advance(TimeSpan.FromSeconds(300));
        var trimsBefore = trim.Trims;

        var kept = Holes();
        try
        {
            Assert.True(HeapTrim.FreeBytes() >= 32L << 20, $"free bytes after freeing 32 MiB of holes: {HeapTrim.FreeBytes()}");
            var before = HeapTrim.ResidentBytes();

            Assert.True(trim.TrimIfWorthIt());

            // The holes (32 MiB, every page written; about 28 MiB of whole pages inside them) leave the resident set,
            // and stay free for glibc. Other tests of this process may grow it meanwhile, hence the margin.
            var after = HeapTrim.ResidentBytes();
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
    public void CompactIfWorthIt_GrewAndSettled_CompactsOncePerInterval()
    {
        var time = new ManualTimeProvider();
        var heap = new ScriptedHeap();
        var trim = new HeapTrim(
            Options.Create(new GatewayOptions { ManagedHeapTrimMinGrowthMiB = 64, ManagedHeapTrimMinIntervalSeconds = 1800 }),
            time,
            NullLogger<HeapTrim>.Instance,
            heap);

        Assert.False(Check(trim, heap, 0)); // no collection yet: nothing known
        Assert.False(Check(trim, heap, 100)); // the first figure is the base
        Assert.False(Check(trim, heap, 90)); // less: the base goes down with it
        Assert.False(Check(trim, heap, 150)); // 60 MiB over the base: not enough
        Assert.False(Check(trim, heap, 160)); // 70 MiB over, but still moving
        Assert.Equal(0, heap.Compactions);

        heap.AfterCompaction = 95 << 20;
        Assert.True(Check(trim, heap, 160)); // 70 MiB over and settled
        Assert.Equal(1, heap.Compactions);
        Assert.Equal(1, trim.Compactions);

        // What the compaction left is the new base; grown and settled again, but within the interval: nothing.
        Assert.False(Check(trim, heap, 170));
        Assert.False(Check(trim, heap, 170));
        time.Advance(TimeSpan.FromSeconds(1799));
        Assert.False(Check(trim, heap, 170));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(Check(trim, heap, 170));
        Assert.Equal(2, heap.Compactions);

        // Off: never.
        var offHeap = new ScriptedHeap();
        var off = new HeapTrim(Options.Create(new GatewayOptions { ManagedHeapTrimMinGrowthMiB = 0 }), time, NullLogger<HeapTrim>.Instance, offHeap);
        foreach (var mib in new long[] { 10, 500, 500, 500 })
        {
            Assert.False(Check(off, offHeap, mib));
        }

        Assert.Equal(0, offHeap.Compactions);
    }

    private static bool Check(HeapTrim trim, ScriptedHeap heap, long committedMiB)
    {
        heap.Bytes = committedMiB << 20;
        return trim.CompactIfWorthIt();
    }

    /// <summary>A managed heap whose committed bytes the test sets; a compaction leaves <see cref="AfterCompaction"/>.</summary>
    private sealed class ScriptedHeap : HeapTrim.IManagedHeap
    {
        public long Bytes { get; set; }

        public long AfterCompaction { get; set; }

        public int Compactions { get; private set; }

        public long Committed() => Bytes;

        public void Compact()
        {
            Compactions++;
            Bytes = AfterCompaction;
        }
    }

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

    private static HeapTrim Create(TimeProvider time, int minFreeMiB) =>
        new(Options.Create(new GatewayOptions { NativeHeapTrimMinFreeMiB = minFreeMiB, NativeHeapTrimMinIntervalSeconds = 300 }), time, NullLogger<HeapTrim>.Instance);
}
