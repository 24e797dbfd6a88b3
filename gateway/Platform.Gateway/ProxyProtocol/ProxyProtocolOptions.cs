namespace Platform.Gateway.ProxyProtocol;

/// <summary>
/// PROXY protocol on the gateway's listeners (<c>Platform:ProxyProtocol</c>): which listeners sit behind a load balancer
/// that sends a header, from which addresses, and how long the header may take.
/// </summary>
public sealed class ProxyProtocolOptions
{
    /// <summary>Seconds a marked listener waits for a complete header, from accept; 1..60.</summary>
    public int HeaderTimeoutSeconds { get; set; } = 5;

    /// <summary>The plain WebSocket port.</summary>
    public ProxyListenerOptions Ws { get; set; } = new();

    /// <summary>The WebSocket over TLS port.</summary>
    public ProxyListenerOptions Wss { get; set; } = new();

    /// <summary>The SNI-routed raw TLS port.</summary>
    public ProxyListenerOptions Tls { get; set; } = new();

    /// <summary>Every dedicated tenant port (TCP and TLS).</summary>
    public ProxyListenerOptions Dedicated { get; set; } = new();

    /// <summary>The settings of <paramref name="listener"/>.</summary>
    public ProxyListenerOptions For(ProxyListener listener) => listener switch
    {
        ProxyListener.Ws => Ws,
        ProxyListener.Wss => Wss,
        ProxyListener.Tls => Tls,
        _ => Dedicated,
    };

    /// <summary>Problems with these settings, each a sentence naming the setting.</summary>
    public IEnumerable<string> Validate()
    {
        if (HeaderTimeoutSeconds is < 1 or > 60)
        {
            yield return "ProxyProtocol:HeaderTimeoutSeconds must be between 1 and 60.";
        }

        foreach (var listener in Enum.GetValues<ProxyListener>())
        {
            foreach (var error in (For(listener) ?? new ProxyListenerOptions()).Validate($"ProxyProtocol:{listener}"))
            {
                yield return error;
            }
        }
    }
}
