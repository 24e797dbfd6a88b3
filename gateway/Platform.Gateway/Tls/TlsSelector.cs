using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Gateway.Admission;
using Platform.Gateway.Hosting;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Tls;

/// <summary>
/// Chooses per-handshake TLS options from the live snapshot: the tenant by SNI (or by dedicated port),
/// its cached certificate context, its protocol floor and cipher policy, and mutual TLS against its
/// client CAs. No SNI, an unknown name, or a tenant with broken certificate material fails the handshake.
/// The chosen tenant and the client-certificate decision are left in the connection's items.
/// </summary>
internal sealed partial class TlsSelector(
    TenantSnapshotStore store,
    AdmissionController admission,
    GatewayListeners listeners,
    GatewayMetrics metrics,
    ILogger<TlsSelector> logger)
{
    /// <summary>Connection item key of the <see cref="TenantRuntime"/> chosen during the handshake.</summary>
    public static readonly object TenantKey = new();

    /// <summary>Connection item key of the <see cref="AdmissionTicket"/> taken during a raw TLS handshake.</summary>
    public static readonly object TicketKey = new();

    /// <summary>Connection item key of the <see cref="ClientCertificateFacts"/>.</summary>
    public static readonly object ClientCertificateKey = new();

    /// <summary>Kestrel's asynchronous per-connection callback for SNI-routed listeners.</summary>
    public ValueTask<SslServerAuthenticationOptions> OnConnection(TlsHandshakeCallbackContext context)
    {
        var sni = context.ClientHelloInfo.ServerName;
        if (string.IsNullOrEmpty(sni))
        {
            Log.NoSni(logger, context.Connection.RemoteEndPoint);
            metrics.Refused("", RefusalReason.TlsFailed);
            throw new AuthenticationException("The client sent no server name (SNI).");
        }

        var tenant = store.Current.ByHost(sni);
        if (tenant is null)
        {
            Log.UnknownSni(logger, sni);
            metrics.Refused("", RefusalReason.UnknownTenant);
            throw new AuthenticationException("No tenant serves this server name.");
        }

        // Raw TLS admits during the handshake so a refusal fails it; wss answers refusals with HTTP statuses instead.
        if (listeners.Tls is not null && (context.Connection.LocalEndPoint as IPEndPoint)?.Port == listeners.TlsPort)
        {
            var remote = (context.Connection.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
            if (admission.TryAdmit(tenant, remote, out var ticket) != RefusalReason.None)
            {
                throw new AuthenticationException("The connection is not admitted.");
            }

            context.Connection.Items[TicketKey] = ticket;
            context.Connection.ConnectionClosed.Register(static t => ((AdmissionTicket)t!).Dispose(), ticket);
        }

        return ValueTask.FromResult(Build(tenant, sni, context.Connection.Items));
    }

    /// <summary>Options for a tenant already known (a dedicated port, or chosen by SNI).</summary>
    public SslServerAuthenticationOptions Build(TenantRuntime tenant, string? sni, IDictionary<object, object?> items)
    {
        var certificate = tenant.CertificateFor(sni);
        if (certificate is null)
        {
            Log.NoCertificate(logger, tenant.Slug, sni, tenant.TlsError ?? "no certificate uploaded");
            metrics.Refused(tenant.Slug, RefusalReason.TlsFailed);
            throw new AuthenticationException("The tenant has no usable certificate.");
        }

        items[TenantKey] = tenant;
        var options = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = certificate.Context,
            EnabledSslProtocols = tenant.SslProtocols,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            AllowRenegotiation = false,
        };
        if (tenant.CipherSuites is not null)
        {
            options.CipherSuitesPolicy = tenant.CipherSuites;
        }

        var mode = tenant.Config.Tls.ClientCertificates;
        if (mode != ClientCertificateModes.None)
        {
            options.ClientCertificateRequired = true;
            var cas = tenant.ClientCas;
            options.RemoteCertificateValidationCallback = (_, presented, _, _) =>
            {
                if (presented is null)
                {
                    items[ClientCertificateKey] = null;
                    return mode == ClientCertificateModes.Optional;
                }

                using var leaf = X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
                var accepted = cas is not null && ChainsTo(leaf, cas);
                items[ClientCertificateKey] = new ClientCertificateFacts(
                    leaf.Subject, leaf.Issuer, Convert.ToHexStringLower(SHA256.HashData(leaf.RawData)), accepted);
                if (!accepted)
                {
                    Log.ClientCertificateRejected(logger, tenant.Slug, leaf.Subject);
                    metrics.Refused(tenant.Slug, RefusalReason.TlsFailed);
                }

                return accepted;
            };
        }

        return options;
    }

    /// <summary>TLS facts of a finished handshake.</summary>
    public static TlsFacts Facts(SslProtocols protocol, TlsCipherSuite? cipher, string? sni, IDictionary<object, object?> items)
    {
        items.TryGetValue(ClientCertificateKey, out var value);
        var client = value as ClientCertificateFacts;
        return new TlsFacts(sni, protocol.ToString(), cipher?.ToString() ?? "", client?.Subject, client?.Issuer, client?.Thumbprint, client?.Accepted, null);
    }

    internal static bool ChainsTo(X509Certificate2 leaf, X509Certificate2Collection anchors)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(anchors);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationFlags = X509VerificationFlags.NoFlag;
        try
        {
            return chain.Build(leaf);
        }
        finally
        {
            foreach (var element in chain.ChainElements)
            {
                if (!ReferenceEquals(element.Certificate, leaf))
                {
                    element.Certificate.Dispose();
                }
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4001, Level = LogLevel.Debug, Message = "TLS handshake from {Remote} without SNI refused")]
        public static partial void NoSni(ILogger logger, System.Net.EndPoint? remote);

        [LoggerMessage(EventId = 4002, Level = LogLevel.Debug, Message = "TLS handshake for unknown name {Sni} refused")]
        public static partial void UnknownSni(ILogger logger, string sni);

        [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Tenant {Slug}: no usable certificate for {Sni}: {Reason}")]
        public static partial void NoCertificate(ILogger logger, string slug, string? sni, string reason);

        [LoggerMessage(EventId = 4004, Level = LogLevel.Debug, Message = "Tenant {Slug}: client certificate {Subject} rejected")]
        public static partial void ClientCertificateRejected(ILogger logger, string slug, string subject);
    }
}

/// <summary>The client certificate presented during a handshake and the decision on it.</summary>
internal sealed record ClientCertificateFacts(string Subject, string Issuer, string Thumbprint, bool Accepted);
