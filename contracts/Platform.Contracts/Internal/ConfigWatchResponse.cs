using Platform.Contracts.Config;

namespace Platform.Contracts.Internal;

/// <summary>
/// Answer of the config watch. When <see cref="Full"/> is true the tenants listed are the whole
/// state and the gateway replaces its snapshot; otherwise they are the tenants changed after the
/// cursor, and <see cref="RemovedTenantIds"/> the tenants deleted after it. An answer with no tenants
/// and no removals (the long poll timed out) carries the unchanged revision.
/// </summary>
/// <param name="Revision">Cursor for the next watch.</param>
/// <param name="Full">Whether this is a full snapshot.</param>
/// <param name="Tenants">Changed (or all) tenants.</param>
/// <param name="RemovedTenantIds">Deleted tenants.</param>
public sealed record ConfigWatchResponse(long Revision, bool Full, IReadOnlyList<TenantSnapshot> Tenants, IReadOnlyList<Guid> RemovedTenantIds);

/// <summary>Everything a gateway needs to serve one tenant, secrets included (internal API only).</summary>
/// <param name="Id">Tenant id.</param>
/// <param name="Slug">Tenant slug.</param>
/// <param name="Status"><c>active</c> or <c>suspended</c>.</param>
/// <param name="Revision">Revision of the tenant's last change.</param>
/// <param name="Config">Configuration, including the webhook secret.</param>
/// <param name="HostNames">
/// The host names routing to the tenant: <c>{slug}.&lt;domain&gt;</c> and the verified names. Config host names and
/// certificate SANs still pending proof are not listed and must not route.
/// </param>
/// <param name="DedicatedPorts">Dedicated listener ports.</param>
/// <param name="Certificates">Server certificates with private keys.</param>
/// <param name="PskIdentities">DTLS PSK identities with keys.</param>
/// <param name="RawPublicKeys">DTLS client raw public keys the tenant trusts; null from a silo that sends none.</param>
/// <param name="PreviousWebhookSecret">
/// The webhook secret before the current one, while a receiver may still verify with it; null when there is none.
/// </param>
public sealed record TenantSnapshot(
    Guid Id,
    string Slug,
    string Status,
    long Revision,
    TenantConfig Config,
    IReadOnlyList<string> HostNames,
    IReadOnlyList<DedicatedPortSnapshot> DedicatedPorts,
    IReadOnlyList<CertificateMaterial> Certificates,
    IReadOnlyList<PskMaterial> PskIdentities,
    IReadOnlyList<RawPublicKeyMaterial>? RawPublicKeys = null,
    PreviousWebhookSecret? PreviousWebhookSecret = null);

/// <summary>
/// A webhook secret that was replaced: requests are signed with it as well as with the current secret until
/// <paramref name="Until"/>, so a receiver can switch to the new secret without refusing a request.
/// </summary>
/// <param name="Secret">The previous secret.</param>
/// <param name="Until">When requests stop carrying its signature.</param>
public sealed record PreviousWebhookSecret(string Secret, DateTimeOffset Until)
{
    /// <summary>The secret when it still signs at <paramref name="now"/>, otherwise null.</summary>
    public string? At(DateTimeOffset now) => now < Until ? Secret : null;

    /// <summary>Names no secret, for logs.</summary>
    public override string ToString() => $"PreviousWebhookSecret {{ Until = {Until:O} }}";
}

/// <summary>A dedicated port in a snapshot.</summary>
/// <param name="Port">Port number.</param>
/// <param name="Protocol"><c>tcp</c>, <c>tls</c> or <c>dtls</c>.</param>
public sealed record DedicatedPortSnapshot(int Port, string Protocol);

/// <summary>A server certificate with its key, PEM.</summary>
/// <param name="Id">Certificate id.</param>
/// <param name="HostNames">DNS SANs.</param>
/// <param name="CertificateChainPem">Leaf first, then intermediates.</param>
/// <param name="PrivateKeyPem">PKCS#8 private key.</param>
/// <param name="NotAfter">End of validity.</param>
public sealed record CertificateMaterial(Guid Id, IReadOnlyList<string> HostNames, string CertificateChainPem, string PrivateKeyPem, DateTimeOffset NotAfter);

/// <summary>A PSK identity with its key.</summary>
/// <param name="Identity">Device part; clients send <c>{slug}/{identity}</c>.</param>
/// <param name="KeyHex">Key, hex.</param>
public sealed record PskMaterial(string Identity, string KeyHex);

/// <summary>A client raw public key (RFC 7250) the tenant trusts.</summary>
/// <param name="Id">Key id.</param>
/// <param name="Fingerprint">SHA-256 of the DER SubjectPublicKeyInfo, lower-case hex.</param>
/// <param name="SubjectPublicKeyInfoBase64">The DER SubjectPublicKeyInfo, base64.</param>
public sealed record RawPublicKeyMaterial(Guid Id, string Fingerprint, string SubjectPublicKeyInfoBase64);
