using System.Diagnostics;

namespace Platform.Gateway.Dtls;

/// <summary>
/// How much of one receive thread's time may go to session steps it runs itself (see
/// <see cref="DtlsServerOptions.InlineSteps"/>): a token bucket in stopwatch ticks that fills at half the wall-clock
/// rate up to a burst of 2 ms, and that each inline step drains by the time it took, into debt when a step was
/// longer than what was left. A step runs inline only while the balance is positive, so over any stretch of time the
/// thread spends at most half of it, plus one burst and one step, on inline work and the rest reading its socket.
/// Used by its receive thread only: no synchronisation.
/// </summary>
internal sealed class DtlsInlineBudget
{
    /// <summary>Share of the thread's wall-clock time that inline steps may take in the long run.</summary>
    public const double Share = 0.5;

    /// <summary>Inline time a thread may spend at once after being idle.</summary>
    public static readonly TimeSpan Burst = TimeSpan.FromMilliseconds(2);

    private readonly long _burst;
    private readonly double _share;
    private long _balance;
    private long _refilledAt;

    public DtlsInlineBudget()
        : this(Share, Burst, Stopwatch.GetTimestamp())
    {
    }

    /// <summary>A budget of <paramref name="share"/> of the time after a burst of <paramref name="burst"/>, full at <paramref name="now"/>.</summary>
    internal DtlsInlineBudget(double share, TimeSpan burst, long now)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(share);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(share, 1);
        _share = share;
        _burst = (long)(burst.TotalSeconds * Stopwatch.Frequency);
        _balance = _burst;
        _refilledAt = now;
    }

    /// <summary>Inline steps run so far (those charged).</summary>
    public long Steps { get; private set; }

    /// <summary>Steps the budget refused since the thread started.</summary>
    public long Refused { get; private set; }

    /// <summary>Whether a step may run inline now; refills the bucket for the time passed.</summary>
    public bool TryEnter(long now)
    {
        var passed = now - _refilledAt;
        if (passed > 0)
        {
            _refilledAt = now;
            _balance = Math.Min(_burst, _balance + (long)(passed * _share));
        }

        if (_balance > 0)
        {
            return true;
        }

        Refused++;
        return false;
    }

    /// <summary>Charges one inline step that ran from <paramref name="started"/> to <paramref name="ended"/>.</summary>
    public void Charge(long started, long ended)
    {
        Steps++;
        _balance -= Math.Max(0, ended - started);
    }
}
