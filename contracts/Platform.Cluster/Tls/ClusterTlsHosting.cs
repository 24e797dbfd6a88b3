using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans;
using Orleans.Configuration;
using Orleans.Connections.Security;
using Orleans.Hosting;

namespace Platform.Cluster.Tls;

/// <summary>
/// TLS with client certificates on every Orleans connection, over <c>Microsoft.Orleans.Connections.Security</c>. Both ends
/// must present a certificate; a remote certificate is accepted only when its chain ends at a CA of the material's bundle
/// (no system roots, no revocation lookups, no downloads) and its extended key usage fits the side it is on. TLS 1.2 and
/// 1.3 only.
/// </summary>
public static class ClusterTlsHosting
{
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Secures the silo's three kinds of connection. Inbound on the silo-to-silo port: the remote side is a silo, so its
    /// certificate needs client and server authentication (a gateway's certificate, client authentication only, is refused
    /// there). Inbound on the client gateway port: client authentication. Outbound to other silos: server authentication.
    /// </summary>
    /// <param name="builder">The silo builder.</param>
    /// <param name="material">Material loaded for <see cref="ClusterTlsRole.Silo"/>.</param>
    public static ISiloBuilder UsePlatformTls(this ISiloBuilder builder, ClusterTlsMaterial material)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(material);
        if (material.Role != ClusterTlsRole.Silo)
        {
            throw new ArgumentException("A silo needs TLS material loaded for the silo role (server and client authentication).", nameof(material));
        }

        builder.Configure<SiloConnectionOptions>(options =>
        {
            options.ConfigureSiloInboundConnection(connection => connection.UseServerTls(
                Accepting(material, connection.ApplicationServices, ClusterCertificateUsage.ClientAuth | ClusterCertificateUsage.ServerAuth, "silo port")));
            options.ConfigureGatewayInboundConnection(connection => connection.UseServerTls(
                Accepting(material, connection.ApplicationServices, ClusterCertificateUsage.ClientAuth, "client gateway port")));
            options.ConfigureSiloOutboundConnection(connection => connection.UseClientTls(
                Connecting(material, connection.ApplicationServices, "silo connecting to a silo")));
        });
        return builder;
    }

    /// <summary>
    /// Secures an Orleans client's connections to the silos' gateway ports: it presents its certificate (client
    /// authentication) and accepts a silo whose certificate chains to the bundle and carries server authentication.
    /// </summary>
    /// <param name="builder">The client builder.</param>
    /// <param name="material">Material loaded for <see cref="ClusterTlsRole.Client"/> (or a silo's, which can connect too).</param>
    public static IClientBuilder UsePlatformTls(this IClientBuilder builder, ClusterTlsMaterial material)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(material);
        builder.Configure<ClientConnectionOptions>(options => options.ConfigureConnection(connection => connection.UseClientTls(
            Connecting(material, connection.ApplicationServices, "client connecting to a silo"))));
        return builder;
    }

    private static TlsOptions Accepting(ClusterTlsMaterial material, IServiceProvider services, ClusterCertificateUsage required, string side)
    {
        // Built once per listener: the intermediates are sent from what was loaded, never fetched (offline).
        var context = SslStreamCertificateContext.Create(
            material.Certificate,
            material.Intermediates,
            offline: true,
            trust: SslCertificateTrust.CreateForX509Collection(material.Authorities, sendTrustInHandshake: true));
        return new TlsOptions
        {
            LocalCertificate = material.Certificate,
            RemoteCertificateMode = RemoteCertificateMode.RequireCertificate,
            SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            CheckCertificateRevocation = false,
            HandshakeTimeout = HandshakeTimeout,
            RemoteCertificateValidation = Validation(material, services, required, side),
            OnAuthenticateAsServer = (_, tls) =>
            {
                var ssl = tls.SslServerAuthenticationOptions as SslServerAuthenticationOptions
                    ?? throw new InvalidOperationException("Orleans' TLS server options no longer wrap SslServerAuthenticationOptions.");
                // Orleans sets the certificate through a selection callback; the runtime takes one source only.
                ssl.ServerCertificateSelectionCallback = null;
                ssl.ServerCertificate = null;
                ssl.ServerCertificateContext = context;
                ssl.CertificateChainPolicy = material.Validator.HandshakePolicy();
            },
        };
    }

    private static TlsOptions Connecting(ClusterTlsMaterial material, IServiceProvider services, string side)
    {
        var context = SslStreamCertificateContext.Create(material.Certificate, material.Intermediates, offline: true);
        return new TlsOptions
        {
            LocalCertificate = material.Certificate,
            // The certificate must allow client authentication; Orleans checks it when the connection pipeline is built.
            ClientCertificateMode = RemoteCertificateMode.RequireCertificate,
            RemoteCertificateMode = RemoteCertificateMode.RequireCertificate,
            SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            CheckCertificateRevocation = false,
            HandshakeTimeout = HandshakeTimeout,
            RemoteCertificateValidation = Validation(material, services, ClusterCertificateUsage.ServerAuth, side),
            OnAuthenticateAsClient = (_, tls) =>
            {
                var ssl = tls.SslClientAuthenticationOptions as SslClientAuthenticationOptions
                    ?? throw new InvalidOperationException("Orleans' TLS client options no longer wrap SslClientAuthenticationOptions.");
                // The context is sent whatever CA names the server lists, and carries the loaded intermediates.
                ssl.ClientCertificates = null;
                ssl.ClientCertificateContext = context;
                ssl.CertificateChainPolicy = material.Validator.HandshakePolicy();
            },
        };
    }

    private static RemoteCertificateValidator Validation(
        ClusterTlsMaterial material, IServiceProvider services, ClusterCertificateUsage required, string side)
    {
        var time = services.GetService<TimeProvider>() ?? TimeProvider.System;
        var logger = services.GetService<ILoggerFactory>()?.CreateLogger(typeof(ClusterTlsHosting).Namespace!) ?? NullLogger.Instance;
        // The runtime's verdict (policy errors) is not used: it also checks a host name, which cluster certificates do not
        // carry, since silos are addressed by IP. The decision is the bundle's alone.
        return (certificate, chain, _) =>
        {
            var intermediates = chain?.ChainPolicy.ExtraStore;
            if (material.Validator.Check(certificate, intermediates, required, time.GetUtcNow()) is not { } reason)
            {
                return true;
            }

            ClusterTlsLog.PeerRefused(logger, side, certificate.Subject, certificate.GetCertHashString(HashAlgorithmName.SHA256), reason);
            return false;
        };
    }
}
