using Org.BouncyCastle.Tls;
using Org.BouncyCastle.Tls.Crypto;
using Org.BouncyCastle.Tls.Crypto.Impl.BC;
using Platform.Gateway.Dtls.Tenants;

namespace Platform.Gateway.Dtls.Bc;

/// <summary>
/// The BouncyCastle engine's view of one handshake: DTLS 1.2 only, the tenant's certificate (chosen by SNI as for
/// OpenSSL) or its PSKs, client raw public keys checked against the tenant's registered keys, a connection ID from
/// the listener's registry and a heartbeat whose timing the session can see.
/// </summary>
internal sealed class BcTlsServer : DefaultTlsServer, TlsPskIdentityManager
{
    /// <summary>Largest handshake message accepted (BouncyCastle's default is 32 KiB).</summary>
    public const int MaxHandshakeMessageSize = 8 * 1024;

    private static readonly int[] EcdsaSuites =
    [
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CCM,
        CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
    ];

    private static readonly int[] RsaSuites =
    [
        CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        CipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
    ];

    private static readonly int[] PskSuites =
    [
        CipherSuite.TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite.TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256,
        CipherSuite.TLS_PSK_WITH_AES_128_GCM_SHA256,
        CipherSuite.TLS_PSK_WITH_AES_128_CCM_8,
        CipherSuite.TLS_PSK_WITH_AES_128_CCM,
        CipherSuite.TLS_PSK_WITH_AES_128_CBC_SHA256,
    ];

    private readonly DtlsSession _session;
    private readonly DtlsTenant _tenant;
    private DtlsClientHelloFeatures _hello;
    private readonly (TlsCertificate[] Chain, Org.BouncyCastle.Crypto.AsymmetricKeyParameter Key)? _certificate;
    private readonly int _handshakeTimeoutMillis;

    public BcTlsServer(BcTlsCrypto crypto, DtlsSession session, DtlsTenant tenant, int certificateIndex, DtlsClientHelloFeatures hello, TimeSpan handshakeTimeout)
        : base(crypto)
    {
        _session = session;
        _tenant = tenant;
        _hello = hello;
        _handshakeTimeoutMillis = (int)Math.Max(1000, handshakeTimeout.TotalMilliseconds);
        var credentials = BcTenantCredentials.For(tenant, crypto).Certificates;
        if (credentials.Count > 0)
        {
            _certificate = credentials[Math.Clamp(certificateIndex, 0, credentials.Count - 1)];
        }
    }

    private DtlsFeatureSettings Features => _tenant.Settings.Features;

    /// <summary>The negotiated suite's IANA name, once established.</summary>
    public string? CipherSuiteName => SuiteNames.TryGetValue(m_context.SecurityParameters.CipherSuite, out var name) ? name : null;

    /// <summary>The description of the last alert sent or received, for the failure detail.</summary>
    public string? LastAlert { get; private set; }

    /// <summary>Why this server refused the client, when it did (added to the failure detail).</summary>
    public string? Refusal { get; private set; }

    /// <summary>What the session's failure detail says when the handshake failed.</summary>
    public string? FailureDetail => Refusal is null ? LastAlert : $"{LastAlert}: {Refusal}";

    private static readonly Dictionary<int, string> SuiteNames = typeof(CipherSuite)
        .GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
        .Where(f => f.FieldType == typeof(int) && f.Name.StartsWith("TLS_", StringComparison.Ordinal))
        .GroupBy(f => (int)f.GetValue(null)!)
        .ToDictionary(g => g.Key, g => g.First().Name);

    private static readonly Dictionary<string, int> SuiteNumbers = SuiteNames.ToDictionary(p => p.Value, p => p.Key, StringComparer.Ordinal);

    protected override ProtocolVersion[] GetSupportedVersions() => ProtocolVersion.DTLSv12.Only();

    protected override int[] GetSupportedCipherSuites()
    {
        var suites = new List<int>();
        if (_certificate is { } certificate)
        {
            suites.AddRange(BcTenantCredentials.SignatureAlgorithmOf(certificate.Key) switch
            {
                SignatureAlgorithm.ecdsa => EcdsaSuites,
                SignatureAlgorithm.rsa => RsaSuites,
                _ => [],
            });
        }

        if (_tenant.Settings.PreSharedKeys.Count > 0)
        {
            suites.AddRange(PskSuites);
        }

        if (_tenant.Settings.CipherSuites.Count > 0)
        {
            // The tenant's cipher policy, by IANA name, as for OpenSSL sessions.
            var allowed = _tenant.Settings.CipherSuites.Select(n => SuiteNumbers.GetValueOrDefault(n, -1)).ToHashSet();
            suites.RemoveAll(s => !allowed.Contains(s));
        }

        return TlsUtilities.GetSupportedCipherSuites(Crypto, [.. suites]);
    }

    public override int GetHandshakeTimeoutMillis() => _handshakeTimeoutMillis;

    public override int GetMaxHandshakeMessageSize() => MaxHandshakeMessageSize;

    public override int GetSelectedCipherSuite()
    {
        // The tenant's admission runs once the hello is parsed and before the server's first flight is written.
        _session.BcAdmit();
        return base.GetSelectedCipherSuite();
    }

    public override TlsCredentials GetCredentials()
    {
        var keyExchange = TlsUtilities.GetKeyExchangeAlgorithm(m_context.SecurityParameters.CipherSuite);
        return keyExchange is KeyExchangeAlgorithm.PSK or KeyExchangeAlgorithm.ECDHE_PSK or KeyExchangeAlgorithm.DHE_PSK
            ? null!
            : base.GetCredentials();
    }

    protected override TlsCredentialedSigner GetECDsaSignerCredentials() => Signer(SignatureAlgorithm.ecdsa);

    protected override TlsCredentialedSigner GetRsaSignerCredentials() => Signer(SignatureAlgorithm.rsa);

    private BcDefaultTlsCredentialedSigner Signer(short algorithm)
    {
        if (_certificate is not { } certificate || BcTenantCredentials.SignatureAlgorithmOf(certificate.Key) != algorithm)
        {
            throw new TlsFatalAlert(AlertDescription.internal_error);
        }

        var signatureAndHash = TlsUtilities.ChooseSignatureAndHashAlgorithm(m_context, m_context.SecurityParameters.ClientSigAlgs, algorithm);
        return new BcDefaultTlsCredentialedSigner(
            new TlsCryptoParameters(m_context), (BcTlsCrypto)Crypto, certificate.Key, new Certificate(certificate.Chain), signatureAndHash);
    }

    public override TlsPskIdentityManager GetPskIdentityManager() => this;

    byte[]? TlsPskIdentityManager.GetHint() => null;

    byte[]? TlsPskIdentityManager.GetPsk(byte[] identity) => _session.BcResolvePsk(identity);

    /// <summary>Raw public keys are asked for only from a client that offered them, for a tenant that takes them.</summary>
    private bool WantsRawPublicKey => Features.RawPublicKeys && _hello.ClientRawPublicKey;

    protected override short[] GetAllowedClientCertificateTypes() =>
        WantsRawPublicKey ? [CertificateType.RawPublicKey] : null!;

    public override CertificateRequest GetCertificateRequest()
    {
        if (!WantsRawPublicKey)
        {
            return null!;
        }

        short[] types = [ClientCertificateType.ecdsa_sign, ClientCertificateType.rsa_sign];
        return new CertificateRequest(types, TlsUtilities.GetDefaultSupportedSignatureAlgorithms(m_context), null);
    }

    public override void NotifyClientCertificate(Certificate clientCertificate)
    {
        if (clientCertificate is null || clientCertificate.IsEmpty)
        {
            // A client that offered a raw public key must authenticate with one.
            Refusal = "no client raw public key";
            throw new TlsFatalAlert(AlertDescription.handshake_failure, Refusal);
        }

        if (clientCertificate.CertificateType != CertificateType.RawPublicKey)
        {
            Refusal = "client certificate is not a raw public key";
            throw new TlsFatalAlert(AlertDescription.unsupported_certificate, Refusal);
        }

        var fingerprint = DtlsFeatureSettings.Fingerprint(clientCertificate.GetCertificateAt(0).GetEncoded());
        if (!Features.TrustedKeyFingerprints.Contains(fingerprint))
        {
            Refusal = "raw public key not registered";
            throw new TlsFatalAlert(AlertDescription.bad_certificate, Refusal);
        }

        _session.BcRawPublicKeyAccepted(fingerprint);
    }

    protected override byte[] GetNewConnectionID() =>
        Features.ConnectionIdLength > 0 && _hello.ConnectionId ? _session.BcAllocateConnectionId(Features.ConnectionIdLength) : null!;

    public override TlsHeartbeat GetHeartbeat() =>
        Features.HeartbeatInterval > TimeSpan.Zero && _hello.Heartbeat ? _session.BcCreateHeartbeat() : null!;

    public override short GetHeartbeatPolicy() => HeartbeatMode.peer_allowed_to_send;

    /// <summary>
    /// The handshake ended: BouncyCastle keeps this object for the whole session (its record layer reports alerts to
    /// it), so the tables the handshake needed go now — the client's and the server's extensions, the client's
    /// cipher suites, the server's own suite and version lists, status requests, ALPN names and hello — instead of
    /// staying with every idle session.
    /// </summary>
    public override void NotifyHandshakeComplete()
    {
        base.NotifyHandshakeComplete();
        m_clientExtensions = null;
        // BouncyCastle made this table readonly: emptied and shrunk instead.
        m_serverExtensions.Clear();
        if (m_serverExtensions is Dictionary<int, byte[]> serverExtensions)
        {
            serverExtensions.TrimExcess();
        }

        m_offeredCipherSuites = null;

        // The suites and versions this server offered are the handshake's too (BouncyCastle's DTLS server does not
        // renegotiate); the negotiated ones stay in the security parameters.
        m_cipherSuites = null;
        m_protocolVersions = null;
        m_certificateStatusRequest = null;
        m_statusRequestV2 = null;
        m_trustedCAKeys = null;
        m_clientProtocolNames = null;
        _hello = default;
    }

    public override void NotifyAlertRaised(short alertLevel, short alertDescription, string message, Exception cause) =>
        LastAlert = "sent " + AlertDescription.GetText(alertDescription) + ((message ?? cause?.Message) is { } text ? ": " + text : "");

    public override void NotifyAlertReceived(short alertLevel, short alertDescription) =>
        LastAlert = "received " + AlertDescription.GetText(alertDescription);
}
