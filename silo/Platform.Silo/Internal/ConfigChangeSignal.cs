namespace Platform.Silo.Internal;

/// <summary>
/// Wakes config watchers when a revision is committed. A watcher takes <see cref="Next"/> before it
/// queries, so a change committed between its query and its wait still completes the task it holds.
/// </summary>
internal sealed class ConfigChangeSignal
{
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _isListening;

    /// <summary>Completes at the next change after the moment it is read.</summary>
    public Task Next => Volatile.Read(ref _next).Task;

    /// <summary>Whether notifications currently arrive; while they do not, watchers poll.</summary>
    public bool IsListening => _isListening;

    /// <summary>Completes once the process has listened for notifications at least once.</summary>
    public Task FirstListening => _listening.Task;

    public void Fire()
    {
        var previous = Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        previous.TrySetResult();
    }

    public void SetListening(bool listening)
    {
        _isListening = listening;
        if (listening)
        {
            _listening.TrySetResult();
        }
    }
}
