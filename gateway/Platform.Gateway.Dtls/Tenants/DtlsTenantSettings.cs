using Platform.Contracts.Config;

namespace Platform.Gateway.Dtls.Tenants;

/// <summary>What the DTLS listener needs to know about one tenant. Secrets arrive decrypted, in memory only.</summary>
public sealed record DtlsTenantSettings
{
    /// <summary>Stable tenant id.</summary>
    public required string TenantId { get; init; }

    /// <summary>Tenant slug: the first part of PSK identities (<c>{slug}/{device}</c>).</summary>
    public required string Slug { get; init; }

    /// <summary>Server certificates, each a PEM text with the leaf, its intermediates and the unencrypted private key (PKCS#8 or traditional).</summary>
    public IReadOnlyList<string> CertificatePems { get; init; } = [];

    /// <summary>
    /// Host names routed to this tenant by SNI (for example <c>{slug}.&lt;platform domain&gt;</c>); each is served with
    /// the first certificate that names it, else the first certificate.
    /// </summary>
    public IReadOnlyList<string> HostNames { get; init; } = [];

    /// <summary>
    /// Whether the DNS names of <see cref="CertificatePems"/> route SNI to this tenant too. A server whose certificates
    /// are trusted to name their owner may leave it on; the gateway turns it off, because there a certificate (possibly
    /// self-signed) proves nothing: only <see cref="HostNames"/> route, and certificate names only choose the certificate.
    /// </summary>
    public bool RouteCertificateNames { get; init; } = true;

    /// <summary>PSK keys by device identity (the part after <c>{slug}/</c>).</summary>
    public IReadOnlyDictionary<string, byte[]> PreSharedKeys { get; init; } = new Dictionary<string, byte[]>();

    /// <summary><see cref="ClientCertificateModes"/>: none, optional or required.</summary>
    public string ClientCertificates { get; init; } = ClientCertificateModes.None;

    /// <summary>PEM bundle of the CAs client certificates must chain to.</summary>
    public string ClientCaCertificatesPem { get; init; } = "";

    /// <summary>IANA cipher suite names; empty means the platform's default DTLS 1.2 list.</summary>
    public IReadOnlyList<string> CipherSuites { get; init; } = [];

    /// <summary>Handshakes in progress for the tenant at once, after the cookie exchange.</summary>
    public int MaxHalfOpenHandshakes { get; init; } = 256;

    /// <summary>Handshakes in progress for the tenant from one client address at once.</summary>
    public int MaxHalfOpenHandshakesPerClient { get; init; } = 16;

    /// <summary>Sessions with no datagram in or out for this long are closed with close_notify; zero disables it (only for tests of the library: tenants always have one).</summary>
    public TimeSpan IdleTimeout { get; init; }

    /// <summary>The longest a handshake may take once the tenant is known.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>Heartbeats, connection IDs and raw public keys: the features the BouncyCastle engine serves.</summary>
    public Bc.DtlsFeatureSettings Features { get; init; } = Bc.DtlsFeatureSettings.None;

    /// <summary>
    /// Builds settings from a tenant's configuration plus its decrypted certificates and PSKs. Only
    /// <paramref name="routingHostNames"/> route to the tenant (the names proven to be its own); neither the
    /// configuration's host names nor the certificates' names do by themselves.
    /// </summary>
    public static DtlsTenantSettings FromConfig(
        string tenantId,
        string slug,
        TenantConfig config,
        IReadOnlyList<string> certificatePems,
        IReadOnlyDictionary<string, byte[]> preSharedKeys,
        IReadOnlyList<string> routingHostNames)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new DtlsTenantSettings
        {
            TenantId = tenantId,
            Slug = slug,
            CertificatePems = certificatePems,
            HostNames = routingHostNames,
            RouteCertificateNames = false,
            PreSharedKeys = preSharedKeys,
            ClientCertificates = config.Tls.ClientCertificates,
            ClientCaCertificatesPem = config.Tls.ClientCaCertificates,
            CipherSuites = config.Tls.CipherSuites,
            MaxHalfOpenHandshakes = config.Limits.MaxHalfOpenHandshakes,
            MaxHalfOpenHandshakesPerClient = config.Limits.MaxHalfOpenHandshakesPerClient,
            IdleTimeout = TimeSpan.FromSeconds(DtlsIdleSeconds(config.Timeouts)),
            HandshakeTimeout = TimeSpan.FromSeconds(config.Timeouts.HandshakeTimeoutSeconds),
            Features = Bc.DtlsFeatureSettings.FromConfig(config.Dtls, null),
        };
    }

    /// <summary>
    /// A datagram client that vanishes says nothing, so a DTLS session always ends after
    /// <see cref="TimeoutsConfig.DtlsIdleTimeoutSeconds"/> of silence; a shorter general idle timeout wins.
    /// </summary>
    private static int DtlsIdleSeconds(TimeoutsConfig timeouts) =>
        timeouts.IdleTimeoutSeconds > 0 ? Math.Min(timeouts.IdleTimeoutSeconds, timeouts.DtlsIdleTimeoutSeconds) : timeouts.DtlsIdleTimeoutSeconds;
}
