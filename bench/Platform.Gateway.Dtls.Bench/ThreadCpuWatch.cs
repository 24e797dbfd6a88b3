using System.Runtime.InteropServices;

namespace Platform.Gateway.Dtls.Bench;

/// <summary>
/// A stopwatch over the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so time the thread spends
/// preempted on a busy machine is not counted. Start and Stop must run on the same thread.
/// </summary>
internal sealed partial class ThreadCpuWatch
{
    private const int ClockThreadCpuTimeId = 3;

    private long _startedAt = -1;
    private long _elapsed;

    public TimeSpan Elapsed => TimeSpan.FromTicks(_elapsed / 100);

    public void Start() => _startedAt = Now();

    public void Stop()
    {
        if (_startedAt >= 0)
        {
            _elapsed += Now() - _startedAt;
            _startedAt = -1;
        }
    }

    private static unsafe long Now()
    {
        var time = stackalloc long[2];
        if (clock_gettime(ClockThreadCpuTimeId, time) != 0)
        {
            throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        }

        return (time[0] * 1_000_000_000) + time[1];
    }

    [LibraryImport("libc")]
    private static unsafe partial int clock_gettime(int clock, long* time);
}
