using System.Collections.Concurrent;
using Platform.Contracts.Internal;
using Platform.Contracts.Problems;

namespace Platform.Gateway.Admission;

/// <summary>
/// Refusals counted per (minute, tenant, protocol, reason) until the heartbeat hands them to the silo.
/// Counting is lock-free; <see cref="Take"/> moves the counts out, and counts whose heartbeat failed come
/// back through <see cref="Return"/>, so nothing counted is lost while the silo is away.
/// </summary>
internal sealed class RefusalLedger(TimeProvider time)
{
    /// <summary>Distinct keys kept before counts given back are folded into the current minute.</summary>
    public const int MaxKeys = 20_000;

    // A removed cell is set to this so a racing increment sees a negative value and retries on a fresh cell.
    private const long Retired = long.MinValue / 2;

    private readonly ConcurrentDictionary<Key, Cell> _cells = new();

    /// <summary>Distinct keys currently held.</summary>
    public int KeyCount => _cells.Count;

    public void Count(string tenant, string protocol, RefusalReason reason, long count = 1)
    {
        var key = new Key(CurrentMinute(), tenant, protocol, reason);
        Add(key, count);
    }

    /// <summary>Moves every pending count out of the ledger; empty cells of past minutes are dropped.</summary>
    public IReadOnlyList<RefusalDelta> Take()
    {
        var now = CurrentMinute();
        var taken = new List<RefusalDelta>();
        foreach (var (key, cell) in _cells)
        {
            var value = Interlocked.Exchange(ref cell.Value, 0);
            if (value <= 0 && key.Minute < now && _cells.TryRemove(new KeyValuePair<Key, Cell>(key, cell)))
            {
                // An increment that found the cell before its removal lands here or retries on a new cell.
                value = Math.Max(0, Interlocked.Exchange(ref cell.Value, Retired));
            }

            if (value > 0)
            {
                taken.Add(new RefusalDelta(key.Minute, key.Tenant, key.Protocol, RefusalReasons.Name(key.Reason), value));
            }
        }

        return taken;
    }

    /// <summary>Gives back counts the silo did not acknowledge; they are sent again with the next batch.</summary>
    public void Return(IReadOnlyList<RefusalDelta> deltas)
    {
        ArgumentNullException.ThrowIfNull(deltas);
        // While the silo is away the ledger would grow by one key per minute and kind; past the cap the
        // minute is given up (counts land in the current one) rather than a count or memory without bound.
        var fold = _cells.Count + deltas.Count > MaxKeys;
        var now = CurrentMinute();
        foreach (var delta in deltas)
        {
            if (!RefusalReasons.TryParse(delta.Reason, out var reason))
            {
                throw new ArgumentException($"Unknown refusal reason '{delta.Reason}'.", nameof(deltas));
            }

            Add(new Key(fold ? now : delta.Minute, delta.Tenant, delta.Protocol, reason), delta.Count);
        }
    }

    private void Add(Key key, long count)
    {
        while (true)
        {
            var cell = _cells.GetOrAdd(key, static _ => new Cell());
            if (Interlocked.Add(ref cell.Value, count) > 0)
            {
                return;
            }
        }
    }

    private DateTimeOffset CurrentMinute()
    {
        var now = time.GetUtcNow();
        return new DateTimeOffset(now.Ticks - (now.Ticks % TimeSpan.TicksPerMinute), TimeSpan.Zero);
    }

    private readonly record struct Key(DateTimeOffset Minute, string Tenant, string Protocol, RefusalReason Reason);

    private sealed class Cell
    {
        public long Value;
    }
}
