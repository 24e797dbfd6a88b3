namespace Platform.Benchmarks;

/// <summary>One fake gateway's lease round trip to a silo, over the way the build's gateways make it.</summary>
internal abstract class LeaseLink : IAsyncDisposable
{
    /// <summary>Registers the fake gateway; returns its heartbeat interval.</summary>
    public abstract Task<TimeSpan> RegisterAsync(string nodeId);

    /// <summary>One lease sync: the wanted slot totals per tenant; the grants as (tenant, slots, MaxConnections).</summary>
    public abstract Task<IReadOnlyList<(Guid TenantId, int Slots, int MaxConnections)>> SyncAsync(IReadOnlyList<(Guid TenantId, int Slots)> wants);

    /// <summary>One heartbeat, so the silo keeps the fake gateway live while it is measured.</summary>
    public abstract Task HeartbeatAsync(CancellationToken cancellationToken);

    public abstract ValueTask DisposeAsync();
}
