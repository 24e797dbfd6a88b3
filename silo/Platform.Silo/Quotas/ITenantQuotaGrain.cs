namespace Platform.Silo.Quotas;

/// <summary>
/// The MaxConnections leases of one tenant (key: the tenant id). Every gateway's lease sync for the tenant goes
/// through this grain, one call at a time; each grant is written to PostgreSQL before the call returns.
/// </summary>
[Alias("platform.quotas.tenant")]
internal interface ITenantQuotaGrain : IGrainWithGuidKey
{
    /// <summary>Applies one gateway's want for this tenant and answers its grant.</summary>
    [Alias("sync")]
    Task<QuotaAnswer> SyncAsync(QuotaRequest request);
}
