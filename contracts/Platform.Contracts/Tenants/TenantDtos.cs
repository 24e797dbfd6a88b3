using Platform.Contracts.Config;
using Platform.Contracts.Plans;

namespace Platform.Contracts.Tenants;

/// <summary>Body of <c>POST /v1/tenants</c>.</summary>
/// <param name="Slug">Unique routing name: 3..40 lower-case letters, digits and single hyphens, starting with a letter and not ending with a hyphen.</param>
/// <param name="DisplayName">Human-readable name, 1..200 characters.</param>
/// <param name="Config">Initial configuration; defaults apply when omitted. Its values must fit <c>plan</c>.</param>
/// <param name="Plan">The tenant's plan; the default plan applies when omitted.</param>
public sealed record CreateTenantRequest(string Slug, string DisplayName, TenantConfig? Config = null, TenantPlan? Plan = null);

/// <summary>Body of <c>PATCH /v1/tenants/{slug}</c>.</summary>
/// <param name="DisplayName">New display name.</param>
public sealed record UpdateTenantRequest(string? DisplayName);

/// <summary>A tenant as the REST API shows it.</summary>
/// <param name="Id">Stable identifier.</param>
/// <param name="Slug">Routing name.</param>
/// <param name="DisplayName">Human-readable name.</param>
/// <param name="Status"><c>active</c> or <c>suspended</c>.</param>
/// <param name="ConfigRevision">Revision of the current configuration (the config ETag).</param>
/// <param name="HostNames">
/// Every host name that routes to the tenant: <c>{slug}.&lt;domain&gt;</c> and the verified names; names claimed but
/// not yet proven are listed, with their challenge, by <c>GET /v1/tenants/{slug}/host-names</c>.
/// </param>
/// <param name="DedicatedPorts">Dedicated listener ports allocated to the tenant.</param>
/// <param name="CreatedAt">Creation time.</param>
/// <param name="UpdatedAt">Last change time.</param>
public sealed record TenantResponse(
    Guid Id,
    string Slug,
    string DisplayName,
    string Status,
    long ConfigRevision,
    IReadOnlyList<string> HostNames,
    IReadOnlyList<DedicatedPortResponse> DedicatedPorts,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

/// <summary>Values of <see cref="TenantResponse.Status"/>.</summary>
public static class TenantStatuses
{
    /// <summary>Accepting connections.</summary>
    public const string Active = "active";
    /// <summary>Refusing connections; existing ones are closed.</summary>
    public const string Suspended = "suspended";
}

/// <summary>A page of results with an opaque continuation.</summary>
/// <typeparam name="T">Item type.</typeparam>
/// <param name="Items">The items of this page.</param>
/// <param name="Total">Number of items matching the query.</param>
/// <param name="Offset">Offset of the first item.</param>
/// <param name="Limit">Page size used.</param>
public sealed record Page<T>(IReadOnlyList<T> Items, long Total, int Offset, int Limit);

/// <summary>Body of <c>POST /v1/tenants/{slug}/ports</c>.</summary>
/// <param name="Protocol"><c>tcp</c>, <c>tls</c> or <c>dtls</c>.</param>
public sealed record AllocatePortRequest(string Protocol);

/// <summary>A listener port dedicated to one tenant.</summary>
/// <param name="Port">Port number on every gateway.</param>
/// <param name="Protocol"><c>tcp</c>, <c>tls</c> or <c>dtls</c>.</param>
/// <param name="CreatedAt">Allocation time.</param>
public sealed record DedicatedPortResponse(int Port, string Protocol, DateTimeOffset CreatedAt);

/// <summary>Values of <see cref="AllocatePortRequest.Protocol"/>.</summary>
public static class DedicatedPortProtocols
{
    /// <summary>Plain TCP.</summary>
    public const string Tcp = "tcp";
    /// <summary>TLS over TCP.</summary>
    public const string Tls = "tls";
    /// <summary>DTLS over UDP.</summary>
    public const string Dtls = "dtls";
}
