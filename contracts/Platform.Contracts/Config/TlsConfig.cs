namespace Platform.Contracts.Config;

/// <summary>TLS / DTLS policy for the tenant's connections.</summary>
public sealed record TlsConfig
{
    /// <summary>Lowest protocol accepted: <c>tls12</c> (default, the seeds' server default) or <c>tls13</c>. DTLS is always 1.2.</summary>
    public string MinProtocol { get; init; } = TlsProtocols.Tls12;

    /// <summary>
    /// SSLEnabledCipherSuites: IANA cipher suite names (for example
    /// <c>TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256</c>). Empty means the platform's secure default set.
    /// </summary>
    public IReadOnlyList<string> CipherSuites { get; init; } = [];

    /// <summary>SSLAuthenticateClients: <c>none</c> (default), <c>optional</c> or <c>required</c>.</summary>
    public string ClientCertificates { get; init; } = ClientCertificateModes.None;

    /// <summary>SSLClientCACerts: PEM bundle of CA certificates that client certificates must chain to.</summary>
    public string ClientCaCertificates { get; init; } = "";
}

/// <summary>Values of <see cref="TlsConfig.MinProtocol"/>.</summary>
public static class TlsProtocols
{
    /// <summary>TLS 1.2 and newer.</summary>
    public const string Tls12 = "tls12";
    /// <summary>TLS 1.3 only.</summary>
    public const string Tls13 = "tls13";
}

/// <summary>Values of <see cref="TlsConfig.ClientCertificates"/>.</summary>
public static class ClientCertificateModes
{
    /// <summary>No client certificate is requested.</summary>
    public const string None = "none";
    /// <summary>A certificate is requested; if one is sent it must be valid.</summary>
    public const string Optional = "optional";
    /// <summary>A valid certificate is required.</summary>
    public const string Required = "required";
}
