namespace Platform.Gateway.Admission;

/// <summary>One handshake counted by <see cref="HalfOpenCounter"/>; disposing it (at the handshake's end) uncounts it exactly once.</summary>
internal sealed class HalfOpenSlot(HalfOpenCounter owner, Guid? tenant, UInt128 prefix) : IDisposable
{
    private int _released;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            owner.Exit(tenant, prefix);
        }
    }
}
