using System.Data.Common;

namespace Platform.Silo.Tenants.Grains;

/// <summary>
/// What a change sees inside the tenant write routine: the open transaction with the tenant row locked, the tenant as
/// it is committed (null for a create), the revision the write takes (0 for a write gateways do not see), and the time.
/// </summary>
internal sealed record TenantWriteContext(
    DbConnection Connection,
    DbTransaction Transaction,
    TenantState? Tenant,
    long Revision,
    DateTimeOffset Now,
    CancellationToken CancellationToken)
{
    /// <summary>The tenant, for changes that run only on an existing one (the routine has answered 404 otherwise).</summary>
    public TenantState Existing => Tenant ?? throw new InvalidOperationException("The change needs an existing tenant.");
}
