using System.Collections.Frozen;
using Platform.Contracts.Problems;

namespace Platform.Silo.OpenApi;

/// <summary>
/// What each problem <c>code</c> of the REST API means, for the document's answer descriptions and examples. A code an
/// endpoint declares without an entry here fails the document's generation, so no code goes undocumented.
/// </summary>
internal static class ProblemCatalog
{
    private static readonly FrozenDictionary<string, (string Title, string Meaning)> Entries = new Dictionary<string, (string, string)>
    {
        [ErrorCodes.MalformedBody] = ("Malformed body", "the body is missing, is not JSON, or does not have the shape of the request (an unknown or misspelt member included)"),
        [ErrorCodes.ValidationFailed] = ("Validation failed", "one or more fields or parameters are invalid; `errors` names each one"),
        [ErrorCodes.BodyTooLarge] = ("Body too large", "the body exceeds the silo's `Platform:MaxRequestBodyBytes`"),
        [ErrorCodes.Unauthenticated] = ("Authentication required", "no `Authorization: Bearer` key, or a key that is unknown or revoked"),
        [ErrorCodes.Forbidden] = ("Forbidden", "the endpoint is for the operator key; a tenant key cannot use it"),
        [ErrorCodes.TenantSuspended] = ("Tenant suspended", "the tenant is suspended: its keys can read but change nothing until an operator resumes it"),
        [ErrorCodes.NotFound] = ("Not found", "the tenant or resource does not exist, or belongs to a tenant the key cannot see (answered alike)"),
        [ErrorCodes.SlugTaken] = ("Conflict", "a tenant with this slug already exists"),
        [ErrorCodes.HostNameTaken] = ("Conflict", "another tenant has verified this host name, or a wildcard covering it"),
        [ErrorCodes.QuotaExceeded] = ("Quota exceeded", "the tenant's plan allows no more of this resource; `errors` names the plan field and its ceiling"),
        [ErrorCodes.PskIdentityTaken] = ("Conflict", "the tenant already has a PSK identity with this name"),
        [ErrorCodes.RawPublicKeyTaken] = ("Conflict", "the tenant already trusts this raw public key (same SHA-256 fingerprint)"),
        [ErrorCodes.RawPublicKeyInvalid] = ("Raw public key invalid", "the key is neither a PEM `PUBLIC KEY` block nor strict base64 DER SubjectPublicKeyInfo, or its key does not decode (an EC or Ed25519 point off the curve, for example)"),
        [ErrorCodes.RawPublicKeyNotAllowed] = ("Raw public key type or size not allowed", "only EC keys on P-256 or P-384, Ed25519 keys, and RSA keys of 2048 to 8192 bits with an odd exponent of at least 3 are accepted"),
        [ErrorCodes.PrivateKeyRefused] = ("Private key refused", "a private key was sent where a public key belongs; it was neither stored nor echoed"),
        [ErrorCodes.StaleRevision] = ("Stale revision", "`If-Match` does not name the current configuration's ETag; read it again and reapply the change"),
        [ErrorCodes.ConfigFromNewerRelease] = ("Configuration from a newer release", "a newer release of the platform stored the configuration with settings this node does not know (during a rolling upgrade, or after a rollback); a node of that release answers it, and a `PUT` replaces it"),
        [ErrorCodes.PreconditionRequired] = ("Precondition required", "`If-Match` is missing; send the ETag of the configuration the replacement is based on"),
        [ErrorCodes.CertificateInvalid] = ("Certificate invalid", "the PEM or PKCS#12 cannot be read, or its password is wrong or missing"),
        [ErrorCodes.CertificateNoPrivateKey] = ("Certificate has no matching private key", "no private key, or one that does not match the certificate"),
        [ErrorCodes.CertificateExpired] = ("Certificate not valid now", "the certificate has expired or is not valid yet"),
        [ErrorCodes.CertificateUsage] = ("Certificate not usable by a TLS server", "its key usage or extended key usage does not allow TLS server authentication"),
        [ErrorCodes.CertificateNoHostNames] = ("Certificate names no host", "the certificate has no DNS subject alternative name"),
        [ErrorCodes.CertificateKeyNotAllowed] = ("Certificate key type or size not allowed", "only RSA keys of 2048 to 4096 bits and ECDSA keys on P-256 or P-384 are accepted"),
        [ErrorCodes.PortsExhausted] = ("Conflict", "every dedicated port of the operator's range is allocated or cooling down"),
        [ErrorCodes.HostNameUnverified] = ("Host name not verified", "the DNS TXT challenge record is missing or holds another value (or the claim changed while DNS was asked)"),
        [ErrorCodes.RateLimited] = ("Too many checks", "the tenant started a DNS check too recently; `Retry-After` says when it may start the next one"),
        [ErrorCodes.ConnectionNotFound] = ("Connection not found", "the connection is not an open connection of this tenant"),
        [ErrorCodes.NoGateway] = ("No gateway", "no running gateway holds the connection, or none is running for a broadcast"),
        [ErrorCodes.GatewayUnavailable] = ("Gateway unavailable", "the gateway holding the connection did not take the command; retry later"),
        [ErrorCodes.GatewayUnknown] = ("Gateway not running", "the gateway has stopped or was declared dead; there is nothing to drain"),
        [ErrorCodes.OperatorNameTaken] = ("Conflict", "an operator with this user name already exists"),
        [ErrorCodes.InvalidCredentials] = ("Sign-in failed", "the user name or password is wrong, or the account is locked (answered alike)"),
        [ErrorCodes.BadRequest] = ("Bad request", "a route or query value is not of the form the endpoint takes"),
        [ErrorCodes.MethodNotAllowed] = ("Method not allowed", "the path exists but not with this method; `Allow` lists the methods it takes"),
        [ErrorCodes.UnsupportedMediaType] = ("Unsupported media type", "the body is not sent as `application/json`"),
        [ErrorCodes.ClusterUnavailable] = ("Cluster unavailable", "the silo holding this state was lost and the cluster has not yet moved it (at most the failure-detection time); nothing was changed; retry after `Retry-After` seconds"),
        [ErrorCodes.Internal] = ("Internal error", "an unexpected fault; the answer carries only a trace id to quote"),
    }.ToFrozenDictionary(StringComparer.Ordinal);

    public static string Title(string code) => Get(code).Title;

    public static string Meaning(string code) => Get(code).Meaning;

    private static (string Title, string Meaning) Get(string code) =>
        Entries.TryGetValue(code, out var entry)
            ? entry
            : throw new InvalidOperationException($"Problem code '{code}' is declared by an endpoint but has no entry in {nameof(ProblemCatalog)}.");
}
