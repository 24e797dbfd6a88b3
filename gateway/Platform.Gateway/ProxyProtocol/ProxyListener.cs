namespace Platform.Gateway.ProxyProtocol;

/// <summary>The listeners that can be marked as behind a load balancer (DTLS cannot: PROXY headers ride on streams).</summary>
public enum ProxyListener
{
    Ws,
    Wss,
    Tls,
    Dedicated,
}
