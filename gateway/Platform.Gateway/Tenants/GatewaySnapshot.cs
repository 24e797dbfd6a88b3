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

    /// <summary>
    /// Tenant for a host name (SNI or Host header, without port), case-insensitive: the exact name, else a
    /// wildcard certificate name <c>*.parent</c> covering its first label (one label only, as in RFC 6125).
    /// </summary>
    public TenantRuntime? ByHost(string? host) => host is null ? null : ByHost(host.AsSpan());

    /// <inheritdoc cref="ByHost(string?)"/>
    public TenantRuntime? ByHost(ReadOnlySpan<char> host)
    {
        if (host.IsEmpty)
        {
            return null;
        }

        var lookup = ByHostName.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(host, out var tenant))
        {
            return tenant;
        }

        var dot = host.IndexOf('.');
        if (dot <= 0 || dot == host.Length - 1 || host.Length - dot + 1 > MaxHostNameLength)
        {
            return null;
        }

        Span<char> wildcard = stackalloc char[host.Length - dot + 1];
        wildcard[0] = '*';
        host[dot..].CopyTo(wildcard[1..]);
        return lookup.TryGetValue(wildcard, out tenant) ? tenant : null;
    }

    private const int MaxHostNameLength = 255;
}

/// <summary>A dedicated port and the tenant it belongs to.</summary>
internal sealed record DedicatedListener(int Port, string Protocol, TenantRuntime Tenant);
