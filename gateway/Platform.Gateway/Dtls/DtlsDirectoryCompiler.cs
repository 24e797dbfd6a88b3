using Microsoft.Extensions.Logging;
using Platform.Gateway.Dtls.Tenants;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Dtls;

/// <summary>
/// Turns a <see cref="GatewaySnapshot"/> into the DTLS listeners' <see cref="DtlsTenantDirectory"/>: each tenant's
/// certificates (newest first, as for TLS), host names, decrypted PSKs, client CAs, cipher policy and timeouts.
/// A tenant whose material OpenSSL rejects is left out (its handshakes fail) and logged; the others are unaffected.
/// A tenant unchanged since <c>previous</c> (the same compiled <see cref="TenantRuntime"/>) keeps its settings
/// instance, so the directory takes its OpenSSL contexts over instead of building them again.
/// </summary>
internal sealed partial class DtlsDirectoryCompiler(ILogger<DtlsDirectoryCompiler> logger)
{
    private readonly Lock _lock = new();
    private Dictionary<Guid, (TenantRuntime Runtime, DtlsTenantSettings Settings)> _settings = [];

    public DtlsTenantDirectory Compile(GatewaySnapshot snapshot, DtlsTenantDirectory? previous = null)
    {
        var settings = new List<DtlsTenantSettings>(snapshot.ById.Count);
        lock (_lock)
        {
            var next = new Dictionary<Guid, (TenantRuntime, DtlsTenantSettings)>(snapshot.ById.Count);
            foreach (var tenant in snapshot.ById.Values)
            {
                var compiled = _settings.TryGetValue(tenant.Id, out var known) && ReferenceEquals(known.Runtime, tenant)
                    ? known.Settings
                    : Settings(tenant);
                next[tenant.Id] = (tenant, compiled);
                settings.Add(compiled);
            }

            _settings = next;
        }

        var errors = new List<KeyValuePair<string, string>>();
        var directory = DtlsTenantDirectory.Build(settings, errors, previous);
        foreach (var (tenantId, error) in errors)
        {
            Log.TenantRejected(logger, tenantId, error);
        }

        return directory;
    }

    private DtlsTenantSettings Settings(TenantRuntime tenant)
    {
        var source = tenant.Source;
        var keys = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var psk in source.PskIdentities)
        {
            try
            {
                keys[psk.Identity] = Convert.FromHexString(psk.KeyHex);
            }
            catch (FormatException)
            {
                Log.BadPsk(logger, tenant.Slug, psk.Identity);
            }
        }

        if (tenant.Config.Socket.KeepAlive && tenant.Config.Dtls.HeartbeatIntervalSeconds == 0)
        {
            Log.NoHeartbeat(logger, tenant.Slug);
        }

        // The raw public keys a client may authenticate with; a key that is not base64 is left out (and logged).
        var rawKeys = new List<byte[]>();
        foreach (var key in source.RawPublicKeys ?? [])
        {
            try
            {
                rawKeys.Add(Convert.FromBase64String(key.SubjectPublicKeyInfoBase64));
            }
            catch (FormatException)
            {
                Log.BadRawPublicKey(logger, tenant.Slug, key.Id);
            }
        }

        var certificates = source.Certificates
            .OrderByDescending(c => c.NotAfter)
            .Select(c => c.CertificateChainPem.TrimEnd() + "\n" + c.PrivateKeyPem.TrimEnd() + "\n")
            .ToList();
        // The compiled tenant's routing names only (its platform name and the names it has proven): a certificate's own
        // names choose among its certificates but never route the handshake to it.
        return DtlsTenantSettings.FromConfig(tenant.Id.ToString(), tenant.Slug, tenant.Config, certificates, keys, tenant.HostNames) with
        {
            Features = Platform.Gateway.Dtls.Bc.DtlsFeatureSettings.FromConfig(tenant.Config.Dtls, rawKeys),
        };
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 7001, Level = LogLevel.Error, Message = "Tenant {TenantId}: DTLS material rejected by OpenSSL ({Error}); its DTLS handshakes fail until it is fixed")]
        public static partial void TenantRejected(ILogger logger, string tenantId, string error);

        [LoggerMessage(EventId = 7002, Level = LogLevel.Error, Message = "Tenant {Slug}: PSK identity {Identity} has a key that is not hex; it is not served")]
        public static partial void BadPsk(ILogger logger, string slug, string identity);

        [LoggerMessage(EventId = 7003, Level = LogLevel.Debug, Message = "Tenant {Slug} enables keepAlive, which is for TCP: DTLS sessions get RFC 6520 heartbeats only from dtls.heartbeatIntervalSeconds; the idle timeout applies")]
        public static partial void NoHeartbeat(ILogger logger, string slug);

        [LoggerMessage(EventId = 7004, Level = LogLevel.Error, Message = "Tenant {Slug}: raw public key {KeyId} is not base64; it is not trusted")]
        public static partial void BadRawPublicKey(ILogger logger, string slug, Guid keyId);
    }
}
