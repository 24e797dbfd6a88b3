using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Platform.Contracts.Config;
using Platform.Contracts.Internal;
using Platform.Gateway.Admission;
using Platform.Gateway.Hosting;

namespace Platform.Gateway.Tenants;

/// <summary>
/// Turns silo snapshots into <see cref="GatewaySnapshot"/>s. Runs off the hot path; a tenant whose update
/// does not validate keeps its previous compiled form, and a tenant whose certificate material is broken
/// is served without TLS (its handshakes fail) while every other tenant is unaffected.
/// </summary>
internal sealed partial class SnapshotCompiler(IOptions<GatewayOptions> options, ILogger<SnapshotCompiler> logger)
{
    private readonly string _domain = options.Value.PlatformDomain.ToLowerInvariant();
    private readonly ConcurrentDictionary<string, TenantCertificate> _certificates = new(StringComparer.Ordinal);

    /// <summary>Builds the next snapshot from the current one and a watch answer.</summary>
    public GatewaySnapshot Apply(GatewaySnapshot current, ConfigWatchResponse change)
    {
        var tenants = change.Full ? new Dictionary<Guid, TenantRuntime>() : new Dictionary<Guid, TenantRuntime>(current.ById);
        foreach (var removed in change.RemovedTenantIds)
        {
            tenants.Remove(removed);
        }

        foreach (var snapshot in change.Tenants)
        {
            current.ById.TryGetValue(snapshot.Id, out var previous);
            if (previous is not null && previous.Revision == snapshot.Revision)
            {
                tenants[snapshot.Id] = previous;
                continue;
            }

            var compiled = TryCompile(snapshot);
            if (compiled is not null)
            {
                tenants[snapshot.Id] = compiled;
            }
            else if (previous is not null)
            {
                tenants[snapshot.Id] = previous;
            }
        }

        var result = Index(change.Full ? change.Revision : Math.Max(change.Revision, current.Revision), tenants.Values);
        PruneCertificateCache(result);
        return result;
    }

    /// <summary>Compiles one tenant, or returns null (logged) when its configuration is invalid.</summary>
    public TenantRuntime? TryCompile(TenantSnapshot snapshot)
    {
        var config = snapshot.Config;
        var errors = TenantConfigValidator.Validate(config);
        if (errors.Count > 0)
        {
            Log.InvalidConfig(logger, snapshot.Slug, snapshot.Revision, errors[0].Field, errors[0].Message);
            return null;
        }

        if (!ClientAccessList.TryCompile(config.Access.AllowedClients, out var allowed, out var error)
            || !ClientAccessList.TryCompile(config.Access.BlockedClients, out var blocked, out error))
        {
            Log.InvalidConfig(logger, snapshot.Slug, snapshot.Revision, "access", error ?? "");
            return null;
        }

        var certificates = new Dictionary<string, TenantCertificate>(StringComparer.OrdinalIgnoreCase);
        TenantCertificate? first = null;
        string? tlsError = null;
        foreach (var material in snapshot.Certificates.OrderByDescending(c => c.NotAfter))
        {
            try
            {
                var certificate = LoadCertificate(material);
                first ??= certificate;
                foreach (var host in material.HostNames)
                {
                    certificates.TryAdd(host.ToLowerInvariant(), certificate);
                }
            }
            catch (CryptographicException ex)
            {
                tlsError = $"Certificate {material.Id} cannot be loaded.";
                Log.BrokenCertificate(logger, ex, snapshot.Slug, material.Id);
            }
            catch (ArgumentException ex)
            {
                tlsError = $"Certificate {material.Id} cannot be loaded.";
                Log.BrokenCertificate(logger, ex, snapshot.Slug, material.Id);
            }
        }

        X509Certificate2Collection? clientCas = null;
        if (config.Tls.ClientCertificates != ClientCertificateModes.None && !string.IsNullOrWhiteSpace(config.Tls.ClientCaCertificates))
        {
            try
            {
                clientCas = [];
                clientCas.ImportFromPem(config.Tls.ClientCaCertificates);
            }
            catch (CryptographicException ex)
            {
                tlsError = "The client CA bundle cannot be loaded.";
                clientCas = null;
                Log.BrokenCertificate(logger, ex, snapshot.Slug, Guid.Empty);
            }
        }

        // Only the names the silo lists route: the tenant's platform name and the names it has proven. The config's
        // host names and the certificates' names are claims until then; certificates still load, and their names
        // choose among the tenant's certificates once a routing name has chosen the tenant.
        var hostNames = new List<string>(snapshot.HostNames.Count + 1);
        foreach (var host in snapshot.HostNames.Append($"{snapshot.Slug}.{_domain}"))
        {
            var lower = host.ToLowerInvariant();
            if (!hostNames.Contains(lower))
            {
                hostNames.Add(lower);
            }
        }

        return new TenantRuntime
        {
            Id = snapshot.Id,
            Slug = snapshot.Slug,
            Suspended = !string.Equals(snapshot.Status, "active", StringComparison.Ordinal),
            Revision = snapshot.Revision,
            Config = config,
            Allowed = allowed,
            Blocked = blocked,
            HostNames = hostNames,
            DedicatedPorts = snapshot.DedicatedPorts,
            CertificatesByHost = tlsError is null ? certificates.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase) : FrozenDictionary<string, TenantCertificate>.Empty,
            DefaultCertificate = tlsError is null ? first : null,
            TlsError = tlsError,
            ClientCas = clientCas,
            SslProtocols = config.Tls.MinProtocol == TlsProtocols.Tls13 ? SslProtocols.Tls13 : SslProtocols.Tls12 | SslProtocols.Tls13,
            CipherSuites = CompileCipherSuites(config.Tls.CipherSuites, snapshot.Slug),
            WebSocket = WebSocketPolicy.Compile(config.WebSocket),
            Listeners = CompileListeners(config),
            Source = snapshot,
        };
    }

    /// <summary>The kinds the tenant accepts; the validator has already refused unknown and duplicate names.</summary>
    private static ListenerKinds CompileListeners(TenantConfig config)
    {
        var kinds = ListenerKinds.None;
        foreach (var protocol in ListenerProtocols.Effective(config))
        {
            kinds |= TenantRuntime.KindOf(protocol);
        }

        return kinds;
    }

    private GatewaySnapshot Index(long revision, IEnumerable<TenantRuntime> tenants)
    {
        var byId = new Dictionary<Guid, TenantRuntime>();
        var bySlug = new Dictionary<string, TenantRuntime>(StringComparer.Ordinal);
        var byHost = new Dictionary<string, TenantRuntime>(StringComparer.OrdinalIgnoreCase);
        var byPort = new Dictionary<int, DedicatedListener>();
        foreach (var tenant in tenants.OrderBy(t => t.Slug, StringComparer.Ordinal))
        {
            byId[tenant.Id] = tenant;
            bySlug[tenant.Slug] = tenant;
            foreach (var host in tenant.HostNames)
            {
                if (!byHost.TryAdd(host, tenant))
                {
                    Log.HostNameConflict(logger, host, byHost[host].Slug, tenant.Slug);
                }
            }

            foreach (var port in tenant.DedicatedPorts)
            {
                if (!byPort.TryAdd(port.Port, new DedicatedListener(port.Port, port.Protocol, tenant)))
                {
                    Log.PortConflict(logger, port.Port, byPort[port.Port].Tenant.Slug, tenant.Slug);
                }
            }
        }

        return new GatewaySnapshot(
            revision,
            byId.ToFrozenDictionary(),
            bySlug.ToFrozenDictionary(StringComparer.Ordinal),
            byHost.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase),
            byPort.ToFrozenDictionary());
    }

    private TenantCertificate LoadCertificate(CertificateMaterial material)
    {
        var key = material.Id.ToString("N") + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(material.CertificateChainPem)));
        if (_certificates.TryGetValue(key, out var cached))
        {
            return cached;
        }

        var leaf = X509Certificate2.CreateFromPem(material.CertificateChainPem, material.PrivateKeyPem);
        var chain = new X509Certificate2Collection();
        chain.ImportFromPem(material.CertificateChainPem);
        var intermediates = new X509Certificate2Collection();
        for (var i = 1; i < chain.Count; i++)
        {
            intermediates.Add(chain[i]);
        }

        var context = SslStreamCertificateContext.Create(leaf, intermediates, offline: true);
        var loaded = new TenantCertificate(material.Id, leaf, context, material.NotAfter);
        _certificates[key] = loaded;
        return loaded;
    }

    private void PruneCertificateCache(GatewaySnapshot snapshot)
    {
        var live = new HashSet<Guid>();
        foreach (var tenant in snapshot.ById.Values)
        {
            foreach (var material in tenant.Source.Certificates)
            {
                live.Add(material.Id);
            }
        }

        foreach (var key in _certificates.Keys)
        {
            if (Guid.TryParseExact(key.AsSpan(0, 32), "N", out var id) && !live.Contains(id))
            {
                _certificates.TryRemove(key, out _);
            }
        }
    }

    private CipherSuitesPolicy? CompileCipherSuites(IReadOnlyList<string> names, string slug)
    {
        if (names.Count == 0 || OperatingSystem.IsWindows())
        {
            return null;
        }

        var suites = new List<TlsCipherSuite>(names.Count);
        foreach (var name in names)
        {
            if (Enum.TryParse<TlsCipherSuite>(name, ignoreCase: false, out var suite))
            {
                suites.Add(suite);
            }
            else
            {
                Log.UnknownCipherSuite(logger, slug, name);
            }
        }

        return suites.Count == 0 ? null : new CipherSuitesPolicy(suites);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1201, Level = LogLevel.Error, Message = "Tenant {Slug} revision {Revision} rejected: {Field}: {Error}; its previous configuration stays live")]
        public static partial void InvalidConfig(ILogger logger, string slug, long revision, string field, string error);

        [LoggerMessage(EventId = 1202, Level = LogLevel.Error, Message = "Tenant {Slug}: certificate {CertificateId} is broken; TLS for this tenant fails until it is replaced")]
        public static partial void BrokenCertificate(ILogger logger, Exception exception, string slug, Guid certificateId);

        [LoggerMessage(EventId = 1203, Level = LogLevel.Warning, Message = "Host name {Host} claimed by {Owner} and {Other}; {Owner} keeps it")]
        public static partial void HostNameConflict(ILogger logger, string host, string owner, string other);

        [LoggerMessage(EventId = 1204, Level = LogLevel.Warning, Message = "Dedicated port {Port} claimed by {Owner} and {Other}; {Owner} keeps it")]
        public static partial void PortConflict(ILogger logger, int port, string owner, string other);

        [LoggerMessage(EventId = 1205, Level = LogLevel.Warning, Message = "Tenant {Slug}: cipher suite {Name} is not known and is ignored")]
        public static partial void UnknownCipherSuite(ILogger logger, string slug, string name);
    }
}
