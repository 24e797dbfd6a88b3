using System.Security.Cryptography;
using System.Text;
using Platform.Contracts.Config;
using Platform.Gateway.Dtls.Interop;

namespace Platform.Gateway.Dtls.Tenants;

/// <summary>
/// One tenant compiled for OpenSSL: an SSL_CTX per certificate, its cipher list and verify mode. Immutable;
/// a change of certificates or PSKs builds a new instance inside a new <see cref="DtlsTenantDirectory"/>.
/// </summary>
public sealed class DtlsTenant : IDisposable
{
    private readonly SslContextHandle[] _contexts;

    internal DtlsTenant(DtlsTenantSettings settings)
    {
        Settings = settings;
        CipherList = SslContextFactory.CipherList(settings.CipherSuites);
        VerifyMode = settings.ClientCertificates switch
        {
            ClientCertificateModes.Required => NativeMethods.SslVerifyPeer | NativeMethods.SslVerifyFailIfNoPeerCert,
            ClientCertificateModes.Optional => NativeMethods.SslVerifyPeer,
            _ => NativeMethods.SslVerifyNone,
        };
        var sessionIdContext = SHA256.HashData(Encoding.UTF8.GetBytes(settings.TenantId));
        var contexts = new List<SslContextHandle>();
        var names = new List<(string Name, int Index)>();
        try
        {
            foreach (var pem in settings.CertificatePems)
            {
                var context = SslContextFactory.CreateTenantContext(pem, settings.ClientCaCertificatesPem, VerifyMode, CipherList, sessionIdContext, out var dnsNames);
                contexts.Add(context);
                names.AddRange(dnsNames.Select(n => (n, contexts.Count - 1)));
            }
        }
        catch
        {
            contexts.ForEach(c => c.Dispose());
            throw;
        }

        _contexts = [.. contexts];
        CertificateHostNames = names;
        RoutingHostNames = _contexts.Length == 0
            ? []
            : [.. settings.HostNames, .. settings.RouteCertificateNames ? names.Select(n => n.Name) : []];
    }

    /// <summary>Tenant id.</summary>
    public string TenantId => Settings.TenantId;

    /// <summary>Tenant slug.</summary>
    public string Slug => Settings.Slug;

    /// <summary>The settings this tenant was built from.</summary>
    public DtlsTenantSettings Settings { get; }

    internal string CipherList { get; }

    internal int VerifyMode { get; }

    /// <summary>DNS names of the certificates, each with the index of the first certificate naming it.</summary>
    internal IReadOnlyList<(string Name, int Index)> CertificateHostNames { get; }

    /// <summary>The SNI names that select this tenant (none without a certificate to serve them with).</summary>
    internal IReadOnlyList<string> RoutingHostNames { get; }

    /// <summary>The certificate for an SNI name already routed here: one naming it exactly, else a wildcard over it, else the first.</summary>
    internal int CertificateIndexFor(string host)
    {
        host = host.TrimEnd('.');
        var dot = host.IndexOf('.', StringComparison.Ordinal);
        var wildcard = dot > 0 ? string.Concat("*", host.AsSpan(dot)) : null;
        var fallback = -1;
        foreach (var (name, index) in CertificateHostNames)
        {
            if (string.Equals(name, host, StringComparison.OrdinalIgnoreCase))
            {
                return index;
            }

            if (fallback < 0 && wildcard is not null && string.Equals(name, wildcard, StringComparison.OrdinalIgnoreCase))
            {
                fallback = index;
            }
        }

        return Math.Max(fallback, 0);
    }

    internal bool HasCertificates => _contexts.Length > 0;

    /// <summary>The context for certificate <paramref name="index"/>, or null when the tenant has no certificate.</summary>
    internal SslContextHandle? Context(int index) => _contexts.Length == 0 ? null : _contexts[Math.Clamp(index, 0, _contexts.Length - 1)];

    /// <summary>Releases this object's references; handshakes already switched to a context keep it alive in OpenSSL.</summary>
    public void Dispose()
    {
        foreach (var context in _contexts)
        {
            context.Dispose();
        }
    }
}
