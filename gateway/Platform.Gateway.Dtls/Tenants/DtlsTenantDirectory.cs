using System.Collections.Frozen;

namespace Platform.Gateway.Dtls.Tenants;

/// <summary>
/// An immutable snapshot of every tenant the DTLS listener serves, indexed by SNI host name, slug and id.
/// Built off the hot path and swapped into a running server with <see cref="DtlsServer.UpdateTenants"/>.
/// </summary>
public sealed class DtlsTenantDirectory : IDisposable
{
    private readonly FrozenDictionary<string, DtlsTenant> _byId;
    private readonly FrozenDictionary<string, DtlsTenant> _bySlug;
    private readonly FrozenDictionary<string, DtlsTenant> _byHost;
    private readonly FrozenDictionary<string, DtlsTenant> _byWildcard;
    private readonly HashSet<DtlsTenant> _handedOver = [];
    private bool _disposed;

    private DtlsTenantDirectory(List<DtlsTenant> tenants)
    {
        Tenants = tenants;
        _byId = tenants.ToFrozenDictionary(t => t.TenantId, StringComparer.Ordinal);
        _bySlug = tenants.ToFrozenDictionary(t => t.Slug, StringComparer.Ordinal);
        var hosts = new Dictionary<string, DtlsTenant>(StringComparer.OrdinalIgnoreCase);
        var wildcards = new Dictionary<string, DtlsTenant>(StringComparer.OrdinalIgnoreCase);
        foreach (var tenant in tenants)
        {
            foreach (var name in tenant.RoutingHostNames)
            {
                var target = name.StartsWith("*.", StringComparison.Ordinal) ? wildcards : hosts;
                var key = name.StartsWith("*.", StringComparison.Ordinal) ? name[2..] : name;
                // Routing names are unique across tenants (the silo enforces it).
                target.TryAdd(key.TrimEnd('.'), tenant);
            }
        }

        _byHost = hosts.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        _byWildcard = wildcards.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>An empty directory: every SNI name is unknown and every PSK identity refused.</summary>
    public static DtlsTenantDirectory Empty { get; } = new([]);

    /// <summary>The tenants in this snapshot.</summary>
    public IReadOnlyList<DtlsTenant> Tenants { get; }

    /// <summary>
    /// Compiles every tenant. A tenant whose certificates or CA bundle OpenSSL rejects is left out and reported in
    /// <paramref name="errors"/> (tenant id and OpenSSL's reason), so one bad upload never blocks the others.
    /// A tenant of <paramref name="previous"/> built from the very same settings instance is taken over instead of
    /// compiled again (its OpenSSL contexts then belong to the new directory, and disposing
    /// <paramref name="previous"/> leaves them alone), so a change to one tenant does not rebuild them all.
    /// </summary>
    public static DtlsTenantDirectory Build(IEnumerable<DtlsTenantSettings> settings, ICollection<KeyValuePair<string, string>>? errors = null, DtlsTenantDirectory? previous = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var tenants = new List<DtlsTenant>();
        foreach (var tenant in settings)
        {
            if (previous?.FindById(tenant.TenantId) is { } existing && ReferenceEquals(existing.Settings, tenant) && previous.TryHandOver(existing))
            {
                tenants.Add(existing);
                continue;
            }

            try
            {
                tenants.Add(new DtlsTenant(tenant));
            }
            catch (Interop.OpenSslException ex)
            {
                errors?.Add(new(tenant.TenantId, ex.Message));
            }
        }

        return new DtlsTenantDirectory(tenants);
    }

    /// <summary>The tenant with this id, if present.</summary>
    public DtlsTenant? FindById(string tenantId) => _byId.GetValueOrDefault(tenantId);

    internal bool TryResolveHost(string host, out DtlsTenant tenant, out int certificateIndex)
    {
        host = host.TrimEnd('.');
        if (_byHost.TryGetValue(host, out var match)
            || (host.IndexOf('.', StringComparison.Ordinal) is > 0 and var dot && _byWildcard.TryGetValue(host[(dot + 1)..], out match)))
        {
            tenant = match;
            certificateIndex = match.CertificateIndexFor(host);
            return true;
        }

        tenant = null!;
        certificateIndex = 0;
        return false;
    }

    internal bool TryResolvePsk(string identity, out DtlsTenant tenant, out byte[] key)
    {
        var slash = identity.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0 && _bySlug.TryGetValue(identity[..slash], out tenant!) && tenant.Settings.PreSharedKeys.TryGetValue(identity[(slash + 1)..], out key!))
        {
            return true;
        }

        tenant = null!;
        key = null!;
        return false;
    }

    /// <summary>
    /// Releases the OpenSSL contexts of the tenants not taken over by a later directory. Safe while sessions built
    /// from them are live.
    /// </summary>
    public void Dispose()
    {
        lock (_handedOver)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (var tenant in Tenants)
            {
                if (!_handedOver.Contains(tenant))
                {
                    tenant.Dispose();
                }
            }
        }
    }

    private bool TryHandOver(DtlsTenant tenant)
    {
        lock (_handedOver)
        {
            // A disposed directory has already released the tenant; a tenant goes to one successor only.
            return !_disposed && _handedOver.Add(tenant);
        }
    }
}
