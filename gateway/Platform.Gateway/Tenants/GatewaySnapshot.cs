using System.Collections.Frozen;

namespace Platform.Gateway.Tenants;

/// <summary>All tenants this gateway serves at one config revision, indexed for the accept path. Immutable.</summary>
internal sealed record GatewaySnapshot(
    long Revision,
    FrozenDictionary<Guid, TenantRuntime> ById,
    FrozenDictionary<string, TenantRuntime> BySlug,
    FrozenDictionary<string, TenantRuntime> ByHostName,
    FrozenDictionary<int, DedicatedListener> ByPort)
{
    public static readonly GatewaySnapshot Empty = new(
        0,
        FrozenDictionary<Guid, TenantRuntime>.Empty,
        FrozenDictionary<string, TenantRuntime>.Empty,
        FrozenDictionary<string, TenantRuntime>.Empty,
        FrozenDictionary<int, DedicatedListener>.Empty);

    /// <summary>Tenant for a host name (SNI or Host header, without port), case-insensitive.</summary>
    public TenantRuntime? ByHost(string? host) =>
        host is { Length: > 0 } && ByHostName.TryGetValue(host, out var tenant) ? tenant : null;
}

/// <summary>A dedicated port and the tenant it belongs to.</summary>
internal sealed record DedicatedListener(int Port, string Protocol, TenantRuntime Tenant);
