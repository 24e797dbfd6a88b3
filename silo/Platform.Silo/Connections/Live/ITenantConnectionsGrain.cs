namespace Platform.Silo.Connections.Live;

/// <summary>
/// The open connections of one tenant (key: the tenant id). Gateways' connection events for the tenant are applied
/// through this grain, one call at a time, each stored in PostgreSQL before the call returns; listings of open
/// connections are answered from its memory.
/// </summary>
[Alias("platform.connections.tenant")]
internal interface ITenantConnectionsGrain : IGrainWithGuidKey
{
    /// <summary>Stores and applies one gateway's events for this tenant; false when that gateway is not live (nothing applied).</summary>
    [Alias("apply")]
    Task<bool> ApplyAsync(TenantConnectionEvents events);

    /// <summary>The open connections matching the query, ordered by opening time, then id.</summary>
    [Alias("list")]
    Task<LiveConnectionPage> ListAsync(LiveConnectionQuery query);

    /// <summary>The connection if it is open in this tenant; null otherwise (closed, unknown, or another tenant's).</summary>
    [Alias("get")]
    Task<LiveConnection?> GetAsync(string id);
}
