using Platform.Contracts.Internal;

namespace Platform.Gateway.Admission;

/// <summary>The silo's lease route as the <see cref="LeaseManager"/> needs it.</summary>
internal interface ILeaseSyncClient
{
    Task<LeaseSyncResponse> SyncLeasesAsync(LeaseSyncRequest request, CancellationToken cancellationToken);
}
