using System.Runtime.CompilerServices;
using Platform.Gateway.Hosting;
using Platform.Gateway.Tests.Telemetry;

namespace Platform.Gateway.Tests.Hosting;

/// <summary>
/// The compaction the heap trim runs, against this process's real GC heap. Alone: another test's allocations and
/// collections between the two readings would move the committed bytes.
/// </summary>
[Collection(RunAlone.Name)]
public sealed class GcHeapTests
{
    [Fact]
    public void Compact_DeadSurvivorsOfGeneration2_TheirRegionsAreDecommitted()
    {
        var before = GrowAndDrop();

        HeapTrim.GcHeap.Instance.Compact();

        // 96 MiB died in generation 2; what the collection frees it decommits.
        var after = HeapTrim.GcHeap.Instance.Committed();
        Assert.True(before - after >= 48L << 20, $"GC committed {before >> 20} -> {after >> 20} MiB");
    }

    /// <summary>
    /// Allocates 96 MiB of small arrays, keeps them through a full non-compacting collection (they reach generation 2,
    /// as a burst's survivors do) and returns the committed bytes with them alive; they die with this method's frame.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static long GrowAndDrop()
    {
        var arrays = new byte[12288][];
        for (var i = 0; i < arrays.Length; i++)
        {
            arrays[i] = new byte[8 * 1024];
        }

        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: false);
        var committed = HeapTrim.GcHeap.Instance.Committed();
        GC.KeepAlive(arrays);
        return committed;
    }
}
