namespace Platform.Gateway.Webhooks;

/// <summary>
/// An asynchronous, first-come-first-served allowance of bytes: <see cref="WaitAsync"/> completes once the bytes fit
/// (a request larger than the whole budget is let through when nothing else is held, so it cannot wait for ever), and
/// <see cref="Release"/> gives them back and wakes the waiters that now fit, in order.
/// </summary>
internal sealed class ByteBudget(long capacity)
{
    private readonly Lock _lock = new();
    private readonly LinkedList<Waiter> _waiters = new();
    private long _used;

    /// <summary>Bytes held now.</summary>
    public long Used
    {
        get
        {
            lock (_lock)
            {
                return _used;
            }
        }
    }

    public ValueTask WaitAsync(int bytes, CancellationToken cancellationToken)
    {
        Waiter waiter;
        lock (_lock)
        {
            if (_waiters.Count == 0 && Fits(bytes))
            {
                _used += bytes;
                return ValueTask.CompletedTask;
            }

            waiter = new Waiter(bytes);
            waiter.Node = _waiters.AddLast(waiter);
        }

        if (cancellationToken.CanBeCanceled)
        {
            waiter.Registration = cancellationToken.Register(static state =>
            {
                var (budget, waiting, token) = ((ByteBudget, Waiter, CancellationToken))state!;
                budget.Cancel(waiting, token);
            }, (this, waiter, cancellationToken));
        }

        return new ValueTask(waiter.Completion.Task);
    }

    /// <summary>Takes <paramref name="bytes"/> at once, beyond the capacity if need be (a closing connection's last messages).</summary>
    public void Take(int bytes)
    {
        lock (_lock)
        {
            _used += bytes;
        }
    }

    public void Release(int bytes)
    {
        List<Waiter>? granted = null;
        lock (_lock)
        {
            _used -= bytes;
            while (_waiters.First is { } first && Fits(first.Value.Bytes))
            {
                _waiters.RemoveFirst();
                first.Value.Node = null;
                _used += first.Value.Bytes;
                (granted ??= []).Add(first.Value);
            }
        }

        if (granted is not null)
        {
            foreach (var waiter in granted)
            {
                waiter.Registration.Dispose();
                waiter.Completion.TrySetResult();
            }
        }
    }

    private bool Fits(int bytes) => _used == 0 || _used + bytes <= capacity;

    private void Cancel(Waiter waiter, CancellationToken token)
    {
        lock (_lock)
        {
            if (waiter.Node is null)
            {
                // Granted already: the bytes are the caller's, who sees the grant.
                return;
            }

            _waiters.Remove(waiter.Node);
            waiter.Node = null;
        }

        waiter.Completion.TrySetCanceled(token);
    }

    private sealed class Waiter(int bytes)
    {
        public int Bytes { get; } = bytes;

        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public LinkedListNode<Waiter>? Node { get; set; }

        public CancellationTokenRegistration Registration { get; set; }
    }
}
