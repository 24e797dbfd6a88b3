using System.Collections.Frozen;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Platform.Contracts.Config;
using Platform.Contracts.Internal;
using Platform.Gateway.Admission;

namespace Platform.Gateway.Tenants;

/// <summary>One tenant compiled for serving: everything the accept path needs, resolved in advance. Immutable.</summary>
internal sealed record TenantRuntime
{
    public required Guid Id { get; init; }

    public required string Slug { get; init; }

    public required bool Suspended { get; init; }

    public required long Revision { get; init; }

    public required TenantConfig Config { get; init; }

    public required ClientAccessList Allowed { get; init; }

    public required ClientAccessList Blocked { get; init; }

    public required IReadOnlyList<string> HostNames { get; init; }

    public required IReadOnlyList<DedicatedPortSnapshot> DedicatedPorts { get; init; }

    /// <summary>Server certificates by lower-case host name (exact names and <c>*.</c> wildcards).</summary>
    public required FrozenDictionary<string, TenantCertificate> CertificatesByHost { get; init; }

    /// <summary>Used when a host name routes to the tenant but no certificate names it.</summary>
    public TenantCertificate? DefaultCertificate { get; init; }

    /// <summary>Why TLS cannot be served for this tenant, when its certificate material is broken.</summary>
    public string? TlsError { get; init; }

    /// <summary>Trust anchors for client certificates; null when mutual TLS is off or the bundle is empty.</summary>
    public X509Certificate2Collection? ClientCas { get; init; }

    public required SslProtocols SslProtocols { get; init; }

    public CipherSuitesPolicy? CipherSuites { get; init; }

    public required WebSocketPolicy WebSocket { get; init; }

    /// <summary>The listener kinds the tenant's clients may arrive on: <see cref="ListenerProtocols.Effective"/>, compiled.</summary>
    public required ListenerKinds Listeners { get; init; }

    /// <summary>The snapshot this was compiled from (kept for the fail-static file).</summary>
    public required TenantSnapshot Source { get; init; }

    /// <summary>
    /// Whether a client on a listener of <paramref name="protocol"/> (a <see cref="Contracts.Connections.ConnectionProtocols"/>
    /// value, which names the listener kinds the same way) may reach the tenant.
    /// </summary>
    public bool Accepts(string protocol) => (Listeners & KindOf(protocol)) != 0;

    /// <summary>The flag of one <see cref="ListenerProtocols"/> value; <see cref="ListenerKinds.None"/> for anything else.</summary>
    public static ListenerKinds KindOf(string protocol) => protocol switch
    {
        ListenerProtocols.Ws => ListenerKinds.Ws,
        ListenerProtocols.Wss => ListenerKinds.Wss,
        ListenerProtocols.Tls => ListenerKinds.Tls,
        ListenerProtocols.Tcp => ListenerKinds.Tcp,
        ListenerProtocols.Dtls => ListenerKinds.Dtls,
        _ => ListenerKinds.None,
    };

    /// <summary>The certificate for an SNI name: exact name first, then a wildcard of the parent, then the default.</summary>
    public TenantCertificate? CertificateFor(string? serverName)
    {
        if (serverName is { Length: > 0 })
        {
            if (CertificatesByHost.TryGetValue(serverName, out var exact))
            {
                return exact;
            }

            var dot = serverName.IndexOf('.', StringComparison.Ordinal);
            if (dot > 0 && CertificatesByHost.GetAlternateLookup<ReadOnlySpan<char>>() is var lookup
                && lookup.TryGetValue(string.Concat("*", serverName.AsSpan(dot)), out var wildcard))
            {
                return wildcard;
            }
        }

        return DefaultCertificate;
    }
}

/// <summary>A server certificate loaded once, with its cached TLS context.</summary>
internal sealed record TenantCertificate(Guid Id, X509Certificate2 Certificate, SslStreamCertificateContext Context, DateTimeOffset NotAfter);
