namespace Platform.Gateway.Admission;

/// <summary>Whether this gateway still admits connections, and when remaining ones must be closed.</summary>
internal sealed class DrainState
{
    private volatile bool _draining;

    public event Action<DateTimeOffset?>? Started;

    public bool IsDraining => _draining;

    public DateTimeOffset? Deadline { get; private set; }

    /// <summary>Starts draining (idempotent; a later call may set the deadline).</summary>
    public void Begin(DateTimeOffset? deadline)
    {
        var first = !_draining;
        if (!first && deadline == Deadline)
        {
            return;
        }

        Deadline = deadline;
        _draining = true;
        Started?.Invoke(deadline);
    }
}
