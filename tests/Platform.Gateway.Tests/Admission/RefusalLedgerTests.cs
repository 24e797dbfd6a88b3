using Platform.Contracts.Internal;
using Platform.Contracts.Problems;
using Platform.Gateway.Admission;
using Platform.Testing;

namespace Platform.Gateway.Tests.Admission;

public sealed class RefusalLedgerTests
{
    private static readonly DateTimeOffset Start = new(2026, 3, 2, 10, 30, 20, TimeSpan.Zero);

    [Fact]
    public void Take_CountsPerMinuteTenantProtocolReason_ThenEmpty()
    {
        var time = new ManualTimeProvider(Start);
        var ledger = new RefusalLedger(time);
        ledger.Count("acme", "ws", RefusalReason.MaxConnections);
        ledger.Count("acme", "ws", RefusalReason.MaxConnections);
        ledger.Count("acme", "wss", RefusalReason.MaxConnections);
        ledger.Count("", "", RefusalReason.UnknownTenant);
        time.Advance(TimeSpan.FromMinutes(1));
        ledger.Count("acme", "ws", RefusalReason.MaxConnections);

        var taken = ledger.Take().OrderBy(d => d.Minute).ThenBy(d => d.Protocol, StringComparer.Ordinal).ThenBy(d => d.Reason, StringComparer.Ordinal).ToList();

        var minute = new DateTimeOffset(2026, 3, 2, 10, 30, 0, TimeSpan.Zero);
        Assert.Equal(
        [
            new RefusalDelta(minute, "", "", "unknown_tenant", 1),
            new RefusalDelta(minute, "acme", "ws", "max_connections", 2),
            new RefusalDelta(minute, "acme", "wss", "max_connections", 1),
            new RefusalDelta(minute.AddMinutes(1), "acme", "ws", "max_connections", 1),
        ], taken);
        Assert.Empty(ledger.Take());
        // Past minutes' emptied cells are dropped; the current minute's stays for reuse.
        Assert.Equal(1, ledger.KeyCount);
    }

    [Fact]
    public void Return_UnacknowledgedCounts_MergeWithNewOnes()
    {
        var time = new ManualTimeProvider(Start);
        var ledger = new RefusalLedger(time);
        ledger.Count("acme", "ws", RefusalReason.Blocked);
        var failed = ledger.Take();
        ledger.Count("acme", "ws", RefusalReason.Blocked);
        ledger.Return(failed);

        var delta = Assert.Single(ledger.Take());
        Assert.Equal(2, delta.Count);
        Assert.Equal("blocked", delta.Reason);
    }

    [Fact]
    public void Return_BeyondMaxKeys_FoldsIntoCurrentMinuteWithoutLosingCounts()
    {
        var time = new ManualTimeProvider(Start);
        var ledger = new RefusalLedger(time);
        var old = Enumerable.Range(0, RefusalLedger.MaxKeys + 10)
            .Select(i => new RefusalDelta(Start.AddMinutes(-i - 1), "acme", "ws", "rate_limited", 2))
            .ToList();

        ledger.Return(old);

        var delta = Assert.Single(ledger.Take());
        Assert.Equal(2L * old.Count, delta.Count);
        Assert.Equal(new DateTimeOffset(2026, 3, 2, 10, 30, 0, TimeSpan.Zero), delta.Minute);
    }

    [Fact]
    public void Return_UnknownReason_Throws()
    {
        var ledger = new RefusalLedger(new ManualTimeProvider(Start));
        Assert.Throws<ArgumentException>(() => ledger.Return([new RefusalDelta(Start, "acme", "ws", "no_such_reason", 1)]));
    }

    [Fact]
    public async Task Count_ConcurrentWithTakeAcrossMinutes_LosesNothing()
    {
        var time = new ManualTimeProvider(Start);
        var ledger = new RefusalLedger(time);
        const int Threads = 4;
        const int PerThread = 50_000;
        var total = 0L;
        using var done = new CancellationTokenSource();
        var taker = Task.Run(() =>
        {
            while (!done.IsCancellationRequested)
            {
                Interlocked.Add(ref total, ledger.Take().Sum(d => d.Count));
                // Moving the clock makes Take retire cells that counters may still be holding.
                time.Advance(TimeSpan.FromSeconds(20));
            }
        });
        var counters = Enumerable.Range(0, Threads).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < PerThread; i++)
            {
                ledger.Count(t % 2 == 0 ? "acme" : "globex", "ws", RefusalReason.PerClientLimit);
            }
        })).ToArray();

        await Task.WhenAll(counters);
        await done.CancelAsync();
        await taker;
        total += ledger.Take().Sum(d => d.Count);

        Assert.Equal((long)Threads * PerThread, total);
    }
}
