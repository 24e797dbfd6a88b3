using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Platform.Contracts.Config;
using Platform.Contracts.Connections;
using Platform.Contracts.Problems;
using Platform.Gateway.Admission;
using Platform.Gateway.Hosting;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Tls;

/// <summary>
/// Chooses per-handshake TLS options from the live snapshot: the tenant by SNI (or by dedicated port),
/// its cached certificate context, its protocol floor and cipher policy, and mutual TLS against its
/// client CAs. No SNI, an unknown name, a tenant that does not accept raw TLS, a tenant at one of its half-open
/// caps, or a tenant with broken certificate material fails the handshake. On the shared ports a handshake counts
/// against the gateway's half-open caps until its ClientHello names the tenant, and against the tenant's from then
/// until it completes (on the wss port: until the upgrade request has been read).
/// The chosen tenant and the client-certificate decision are left in the connection's items.
/// </summary>
internal sealed partial class TlsSelector(
    TenantSnapshotStore store,
    AdmissionController admission,
    HalfOpenCounter halfOpen,
    GatewayListeners listeners,
    GatewayMetrics metrics,
    TimeProvider time,
    IOptions<GatewayOptions> options,
    ILogger<TlsSelector> logger)
{
    /// <summary>Connection item key of the <see cref="TenantRuntime"/> chosen during the handshake.</summary>
    public static readonly object TenantKey = new();

    /// <summary>Connection item key of the <see cref="AdmissionTicket"/> taken during a raw TLS handshake.</summary>
    public static readonly object TicketKey = new();

    /// <summary>Connection item key of the <see cref="ClientCertificateFacts"/>.</summary>
    public static readonly object ClientCertificateKey = new();

    // Present once the refusal of this connection has been counted, so that it is counted once.
    private static readonly object CountedKey = new();

    // Present once the handshake completed.
    private static readonly object CompletedKey = new();

    // The timestamp (TimeProvider) at which the connection was accepted, for the handshake duration.
    private static readonly object StartedKey = new();

    // The tenant's HandshakeDeadline on a shared listener.
    private static readonly object DeadlineKey = new();

    // The HalfOpenSlot held until the ClientHello names a tenant.
    private static readonly object PendingKey = new();

    // The tenant's HalfOpenSlot, held until the TLS handshake completes.
    private static readonly object HalfOpenKey = new();

    // The tenant's HalfOpenSlot on the wss port, held until the upgrade request has been read.
    private static readonly object UpgradeHalfOpenKey = new();

    /// <summary>The gateway-wide handshake timeout: the ceiling for every tenant, the only limit before SNI is known.</summary>
    public TimeSpan HandshakeCap { get; } = TimeSpan.FromSeconds(options.Value.TlsHandshakeTimeoutSeconds);

    /// <summary>The tenant's handshake timeout, never above <see cref="HandshakeCap"/>.</summary>
    public TimeSpan HandshakeTimeoutFor(TenantRuntime tenant)
    {
        var own = TimeSpan.FromSeconds(tenant.Config.Timeouts.HandshakeTimeoutSeconds);
        return own > TimeSpan.Zero && own < HandshakeCap ? own : HandshakeCap;
    }

    /// <summary>
    /// Kestrel's asynchronous per-connection callback for SNI-routed listeners. A refusal sends its alert on
    /// the raw transport (the TLS stack has not written anything yet) and fails the handshake.
    /// </summary>
    public async ValueTask<SslServerAuthenticationOptions> OnConnection(TlsHandshakeCallbackContext context)
    {
        try
        {
            return await SelectAsync(context);
        }
        catch (TlsRefusedException ex)
        {
            await TlsAlert.TrySendAsync(context.Connection.Transport.Output, ex.Alert);
            throw;
        }
    }

    /// <summary>
    /// Connection middleware outside the TLS layer, before the handshake: counts the connection against the gateway's
    /// caps on handshakes whose tenant is not known yet. False (refused with an alert, counted) when one is reached.
    /// </summary>
    public async ValueTask<bool> OnConnectionStartedAsync(ConnectionContext connection)
    {
        var remote = (connection.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
        var slot = halfOpen.TryEnterPending(remote);
        if (slot is not null)
        {
            connection.Items[PendingKey] = slot;
            connection.Items[StartedKey] = time.GetTimestamp();
            return true;
        }

        // Refused before the ClientHello is read: reading it is the work the cap keeps from piling up.
        Log.PendingLimit(logger, connection.RemoteEndPoint);
        metrics.Refused("", ProtocolOf(connection), RefusalReason.HalfOpenLimit);
        await TlsAlert.TrySendAsync(connection.Transport.Output, TlsAlert.HandshakeFailure);
        return false;
    }

    /// <summary>Connection middleware inside the TLS layer: runs once the handshake has completed.</summary>
    public void OnHandshakeCompleted(ConnectionContext connection)
    {
        var items = connection.Items;
        items[CompletedKey] = true;
        if (items.TryGetValue(StartedKey, out var started))
        {
            metrics.HandshakeCompleted(GatewayMetrics.TlsHandshake, ProtocolOf(connection), time.GetElapsedTime((long)started!));
        }

        if (items.TryGetValue(DeadlineKey, out var deadline))
        {
            ((HandshakeDeadline)deadline!).Complete();
        }

        Release(items, HalfOpenKey);
    }

    /// <summary>The wss port has read the upgrade request (or given up on it): the tenant's handshake is no longer half open.</summary>
    public static void OnUpgradeRequestRead(IDictionary<object, object?> items) => Release(items, UpgradeHalfOpenKey);

    /// <summary>
    /// Connection middleware outside the TLS layer, once the connection has ended (for a failed handshake: as soon as
    /// it failed). Gives back what the handshake held (half-open counts, a MaxConnections slot taken at the ClientHello),
    /// and counts a handshake that failed without a refusal counted for it (non-TLS bytes, a timeout, a broken-off
    /// handshake).
    /// </summary>
    public void OnConnectionEnded(ConnectionContext connection)
    {
        var items = connection.Items;
        Release(items, PendingKey);
        Release(items, HalfOpenKey);
        Release(items, UpgradeHalfOpenKey);
        // Once the handshake completed the connection handler owns the ticket and has disposed it; disposing is idempotent.
        Release(items, TicketKey);
        if (items.ContainsKey(CompletedKey) || items.ContainsKey(CountedKey))
        {
            return;
        }

        var tenant = items.TryGetValue(TenantKey, out var value) ? value as TenantRuntime : null;
        if (items.TryGetValue(DeadlineKey, out var deadline) && ((HandshakeDeadline)deadline!).Expired)
        {
            Log.HandshakeTimedOut(logger, tenant?.Slug ?? "", connection.RemoteEndPoint);
        }

        metrics.Refused(tenant?.Slug ?? "", ProtocolOf(connection), RefusalReason.TlsFailed);
    }

    private async ValueTask<SslServerAuthenticationOptions> SelectAsync(TlsHandshakeCallbackContext context)
    {
        var items = context.Connection.Items;
        // The ClientHello is here: from now on the handshake counts against its tenant's caps, if it has one.
        Release(items, PendingKey);
        var protocol = ProtocolOf(context.Connection);
        var sni = context.ClientHelloInfo.ServerName;
        if (string.IsNullOrEmpty(sni))
        {
            Log.NoSni(logger, context.Connection.RemoteEndPoint);
            throw Refuse(items, "", protocol, RefusalReason.TlsFailed, TlsAlert.HandshakeFailure, "The client sent no server name (SNI).");
        }

        var tenant = store.Current.ByHost(sni);
        if (tenant is null)
        {
            Log.UnknownSni(logger, sni);
            throw Refuse(items, "", protocol, RefusalReason.UnknownTenant, TlsAlert.UnrecognizedName, "No tenant serves this server name.");
        }

        // The wss port checks the listener policy after the handshake and answers it with an HTTP status.
        var rawTls = protocol == ConnectionProtocols.Tls;
        if (rawTls && !tenant.Accepts(ConnectionProtocols.Tls))
        {
            throw RefuseProtocol(tenant, protocol, items);
        }

        var remote = (context.Connection.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
        var slot = halfOpen.TryEnterTenant(tenant, remote);
        if (slot is null)
        {
            Log.HalfOpenLimit(logger, tenant.Slug, context.Connection.RemoteEndPoint);
            throw Refuse(items, tenant.Slug, protocol, RefusalReason.HalfOpenLimit, TlsAlert.HandshakeFailure, "The tenant's half-open handshake limit is reached.");
        }

        items[rawTls ? HalfOpenKey : UpgradeHalfOpenKey] = slot;

        // Kestrel's own timeout (the cap) runs from the start; the tenant's, when shorter, from the ClientHello.
        if (HandshakeTimeoutFor(tenant) < HandshakeCap)
        {
            items[DeadlineKey] = HandshakeDeadline.Arm(context.Connection, HandshakeTimeoutFor(tenant), time);
        }

        // Raw TLS admits during the handshake so a refusal fails it; wss answers refusals with HTTP statuses instead.
        // A burst that used up the leased slots waits briefly for the lease in flight, as a WebSocket upgrade does.
        // The slot is given back by OnConnectionEnded as soon as a handshake fails or times out.
        if (rawTls)
        {
            var (refusal, ticket) = await admission.AdmitAsync(tenant, protocol, remote, context.CancellationToken);
            if (refusal != RefusalReason.None)
            {
                items[CountedKey] = true;
                throw new TlsRefusedException(TlsAlert.HandshakeFailure, "The connection is not admitted.");
            }

            items[TicketKey] = ticket;
        }

        return Build(tenant, protocol, sni, items);
    }

    /// <summary>
    /// Refuses, with access_denied, a handshake for a tenant that does not accept clients on this kind of listener
    /// (its <c>listeners</c> setting); counted as <c>protocol_not_allowed</c>.
    /// </summary>
    public TlsRefusedException RefuseProtocol(TenantRuntime tenant, string protocol, IDictionary<object, object?> items)
    {
        Log.ProtocolNotAllowed(logger, tenant.Slug, protocol);
        return Refuse(items, tenant.Slug, protocol, RefusalReason.ProtocolNotAllowed, TlsAlert.AccessDenied, "The tenant does not accept clients on this listener.");
    }

    private static void Release(IDictionary<object, object?> items, object key)
    {
        if (items.Remove(key, out var held))
        {
            ((IDisposable)held!).Dispose();
        }
    }

    private TlsRefusedException Refuse(IDictionary<object, object?> items, string tenant, string protocol, RefusalReason reason, byte alert, string message)
    {
        metrics.Refused(tenant, protocol, reason);
        items[CountedKey] = true;
        return new TlsRefusedException(alert, message);
    }

    /// <summary>The protocol a shared TLS listener serves: wss on the wss port, raw TLS on the others.</summary>
    private string ProtocolOf(ConnectionContext connection) =>
        (connection.LocalEndPoint as IPEndPoint)?.Port == listeners.WssPort ? ConnectionProtocols.Wss : ConnectionProtocols.Tls;

    /// <summary>True when the connection's failed handshake has already been counted as a refusal.</summary>
    public static bool IsCounted(IDictionary<object, object?> items) => items.ContainsKey(CountedKey);

    /// <summary>Options for a tenant already known (a dedicated port, or chosen by SNI).</summary>
    public SslServerAuthenticationOptions Build(TenantRuntime tenant, string protocol, string? sni, IDictionary<object, object?> items)
    {
        var certificate = tenant.CertificateFor(sni);
        if (certificate is null)
        {
            Log.NoCertificate(logger, tenant.Slug, sni, tenant.TlsError ?? "no certificate uploaded");
            throw Refuse(items, tenant.Slug, protocol, RefusalReason.TlsFailed,
                tenant.TlsError is null ? TlsAlert.HandshakeFailure : TlsAlert.InternalError, "The tenant has no usable certificate.");
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
            options.RemoteCertificateValidationCallback = (_, presented, sent, _) =>
            {
                if (presented is null)
                {
                    items[ClientCertificateKey] = null;
                    if (mode == ClientCertificateModes.Optional)
                    {
                        return true;
                    }

                    Log.ClientCertificateMissing(logger, tenant.Slug);
                    metrics.Refused(tenant.Slug, protocol, RefusalReason.TlsFailed);
                    items[CountedKey] = true;
                    return false;
                }

                using var leaf = X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
                // The intermediates the client sent (in the platform's chain's extra store) may bridge the leaf to a tenant CA.
                var accepted = cas is not null && ChainsTo(leaf, cas, sent?.ChainPolicy.ExtraStore);
                items[ClientCertificateKey] = new ClientCertificateFacts(
                    leaf.Subject, leaf.Issuer, Convert.ToHexStringLower(SHA256.HashData(leaf.RawData)), accepted);
                if (!accepted)
                {
                    Log.ClientCertificateRejected(logger, tenant.Slug, leaf.Subject);
                    metrics.Refused(tenant.Slug, protocol, RefusalReason.TlsFailed);
                    items[CountedKey] = true;
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
        return new TlsFacts(sni, TlsProtocolNames.For(protocol), cipher?.ToString() ?? "", client?.Subject, client?.Issuer, client?.Thumbprint, client?.Accepted, null);
    }

    internal static bool ChainsTo(X509Certificate2 leaf, X509Certificate2Collection anchors, X509Certificate2Collection? intermediates = null)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(anchors);
        if (intermediates is not null)
        {
            chain.ChainPolicy.ExtraStore.AddRange(intermediates);
        }

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

        [LoggerMessage(EventId = 4005, Level = LogLevel.Debug, Message = "Tenant {Slug}: no client certificate presented where one is required")]
        public static partial void ClientCertificateMissing(ILogger logger, string slug);

        [LoggerMessage(EventId = 4006, Level = LogLevel.Debug, Message = "Tenant {Slug}: TLS handshake from {Remote} timed out")]
        public static partial void HandshakeTimedOut(ILogger logger, string slug, System.Net.EndPoint? remote);

        [LoggerMessage(EventId = 4007, Level = LogLevel.Debug, Message = "Tenant {Slug}: {Protocol} client refused, the tenant does not accept that listener")]
        public static partial void ProtocolNotAllowed(ILogger logger, string slug, string protocol);

        [LoggerMessage(EventId = 4008, Level = LogLevel.Debug, Message = "Tenant {Slug}: TLS handshake from {Remote} refused at the half-open limit")]
        public static partial void HalfOpenLimit(ILogger logger, string slug, System.Net.EndPoint? remote);

        [LoggerMessage(EventId = 4009, Level = LogLevel.Debug, Message = "TLS connection from {Remote} refused at the gateway's limit of handshakes without a tenant")]
        public static partial void PendingLimit(ILogger logger, System.Net.EndPoint? remote);
    }
}

/// <summary>The client certificate presented during a handshake and the decision on it.</summary>
internal sealed record ClientCertificateFacts(string Subject, string Issuer, string Thumbprint, bool Accepted);
