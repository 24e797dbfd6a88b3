namespace Platform.Contracts.Config;

/// <summary>Values of <see cref="TenantConfig.Listeners"/>: the kinds of listener a tenant's clients may arrive on.</summary>
public static class ListenerProtocols
{
    /// <summary>Plain WebSocket (the ws port, routed by Host header or path).</summary>
    public const string Ws = "ws";
    /// <summary>WebSocket over TLS (the wss port).</summary>
    public const string Wss = "wss";
    /// <summary>Raw TLS: the SNI-routed TLS port and the tenant's dedicated <c>tls</c> ports.</summary>
    public const string Tls = "tls";
    /// <summary>Plain TCP on the tenant's dedicated <c>tcp</c> ports.</summary>
    public const string Tcp = "tcp";
    /// <summary>DTLS: the shared DTLS port and the tenant's dedicated <c>dtls</c> ports.</summary>
    public const string Dtls = "dtls";

    /// <summary>Every listener kind, in the order the documentation lists them.</summary>
    public static IReadOnlyList<string> All { get; } = [Ws, Wss, Tls, Tcp, Dtls];

    /// <summary>The listener kinds that carry no transport security.</summary>
    public static IReadOnlyList<string> Plain { get; } = [Ws, Tcp];

    /// <summary>
    /// The listener kinds that accept the tenant's clients: the explicit list when one is set; otherwise every kind,
    /// except the plain ones (<c>ws</c>, <c>tcp</c>) when client certificates are required, so that requiring them cannot
    /// be side-stepped by connecting without TLS.
    /// </summary>
    public static IReadOnlyList<string> Effective(TenantConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.Listeners is { } explicitList)
        {
            return explicitList;
        }

        return config.Tls?.ClientCertificates == ClientCertificateModes.Required
            ? [Wss, Tls, Dtls]
            : All;
    }
}
