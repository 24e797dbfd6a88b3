using System.Data.Common;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Contracts.Plans;
using Platform.Contracts.Problems;
using Platform.Silo.Problems;

namespace Platform.Silo.Plans;

/// <summary>
/// The plan's counts, checked where a resource is created. Every check runs inside the creating transaction with the
/// tenant row locked (<c>FOR UPDATE</c>), which every creator of the same tenant takes first: the count a check reads
/// includes every creation committed before it, and none can commit between the check and the insert.
/// </summary>
internal static class PlanQuotas
{
    /// <summary>A 409 <c>quota_exceeded</c> when the tenant already holds what its plan allows of <paramref name="resource"/>; otherwise null.</summary>
    public static async Task<ProblemHttpResult?> CheckCreateAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, PlanResource resource, CancellationToken cancellationToken) =>
        await CheckCountAsync(connection, transaction, tenantId, await PlanStore.GetAsync(connection, transaction, tenantId, cancellationToken),
            resource, cancellationToken);

    private static async Task<ProblemHttpResult?> CheckCountAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, TenantPlan plan, PlanResource resource, CancellationToken cancellationToken)
    {
        var (field, allowed, one, many, sql) = resource switch
        {
            PlanResource.DedicatedPorts => ("dedicatedPorts", plan.DedicatedPorts, "dedicated port", "dedicated ports",
                "SELECT count(*)::int FROM dedicated_ports WHERE tenant_id = @tenantId"),
            PlanResource.Certificates => ("certificates", plan.Certificates, "certificate", "certificates",
                "SELECT count(*)::int FROM certificates WHERE tenant_id = @tenantId"),
            PlanResource.PskIdentities => ("pskIdentities", plan.PskIdentities, "PSK identity", "PSK identities",
                "SELECT count(*)::int FROM psk_identities WHERE tenant_id = @tenantId"),
            PlanResource.ApiKeys => ("apiKeys", plan.ApiKeys, "live API key", "live API keys",
                "SELECT count(*)::int FROM api_keys WHERE tenant_id = @tenantId AND revoked_at IS NULL"),
            _ => throw new ArgumentOutOfRangeException(nameof(resource), resource, null),
        };
        var held = await connection.ExecuteScalarAsync<int>(new CommandDefinition(
            sql, new { tenantId }, transaction, cancellationToken: cancellationToken));
        return held < allowed
            ? null
            : Exceeded(field, $"The plan allows {Count(allowed, one, many)}; the tenant holds {held}.");
    }

    /// <summary>
    /// A 409 <c>quota_exceeded</c> on <c>hostNames</c> when a write would leave the tenant with <paramref name="after"/>
    /// custom host names, more than its plan allows; otherwise null.
    /// </summary>
    public static ProblemHttpResult? CheckHostNames(TenantPlan plan, int after)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return after <= plan.HostNames
            ? null
            : Exceeded("hostNames",
                $"The plan allows {Count(plan.HostNames, "custom host name", "custom host names")}; the configuration and certificates would hold {after}.");
    }

    /// <summary>
    /// The checks of a certificate upload: the plan's count of certificates, and its custom host names. A certificate
    /// that brings no name the tenant does not already have (a renewal) never counts against the host names, so a tenant
    /// above a lowered plan can still renew; one that brings new names must leave the tenant within the plan.
    /// </summary>
    public static async Task<ProblemHttpResult?> CheckCertificateAsync(
        DbConnection connection, DbTransaction transaction, Guid tenantId, IEnumerable<string> certificateHostNames, string platformDomain,
        CancellationToken cancellationToken)
    {
        var plan = await PlanStore.GetAsync(connection, transaction, tenantId, cancellationToken);
        if (await CheckCountAsync(connection, transaction, tenantId, plan, PlanResource.Certificates, cancellationToken) is { } exceeded)
        {
            return exceeded;
        }

        var before = await PlanStore.CustomHostNamesAsync(connection, transaction, tenantId, platformDomain, null, cancellationToken);
        var after = new HashSet<string>(before, StringComparer.Ordinal);
        after.UnionWith(CustomHostNames.Of(certificateHostNames, platformDomain));
        return after.Count > before.Count ? CheckHostNames(plan, after.Count) : null;
    }

    private static ProblemHttpResult Exceeded(string field, string message) =>
        ProblemResults.Problem(StatusCodes.Status409Conflict, ErrorCodes.QuotaExceeded, "Quota exceeded", message,
            [new FieldError(field, ErrorCodes.QuotaExceeded, message)]);

    private static string Count(int n, string one, string many) =>
        n.ToString(System.Globalization.CultureInfo.InvariantCulture) + " " + (n == 1 ? one : many);
}
