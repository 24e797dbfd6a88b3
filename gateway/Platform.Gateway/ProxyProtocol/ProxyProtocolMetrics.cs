using System.Diagnostics.Metrics;
using Platform.Gateway.Admission;

namespace Platform.Gateway.ProxyProtocol;

/// <summary>
/// PROXY protocol counters on the gateway's meter (<see cref="GatewayMetrics.MeterName"/>; the factory hands out the one
/// meter for that name): <c>platform.gateway.proxy_protocol.accepted</c> and <c>.refused</c>, listed in docs/metrics.md.
/// </summary>
internal sealed class ProxyProtocolMetrics
{
    /// <summary>Values of the <c>reason</c> label of <see cref="Refused"/>.</summary>
    public const string UntrustedSource = "untrusted_source";

    /// <inheritdoc cref="UntrustedSource"/>
    public const string Timeout = "timeout";

    /// <inheritdoc cref="UntrustedSource"/>
    public const string Truncated = "truncated";

    /// <inheritdoc cref="UntrustedSource"/>
    public const string Malformed = "malformed";

    /// <inheritdoc cref="UntrustedSource"/>
    public const string Oversized = "oversized";

    /// <inheritdoc cref="UntrustedSource"/>
    public const string Unsupported = "unsupported";

    /// <inheritdoc cref="UntrustedSource"/>
    public const string UnmarkedListener = "unmarked_listener";

    private readonly Counter<long> _accepted;
    private readonly Counter<long> _refused;

    public ProxyProtocolMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(GatewayMetrics.MeterName);
        _accepted = meter.CreateCounter<long>("platform.gateway.proxy_protocol.accepted", "{connection}",
            "Connections on listeners behind a load balancer whose PROXY header was read, per listener and version.");
        _refused = meter.CreateCounter<long>("platform.gateway.proxy_protocol.refused", "{connection}",
            "Connections closed over their PROXY header (or its absence), per listener and reason.");
    }

    public void Accepted(ProxyListener listener, int version) =>
        _accepted.Add(1, new KeyValuePair<string, object?>("listener", Name(listener)), new KeyValuePair<string, object?>("version", version == 1 ? "1" : "2"));

    public void Refused(ProxyListener listener, string reason) =>
        _refused.Add(1, new KeyValuePair<string, object?>("listener", Name(listener)), new KeyValuePair<string, object?>("reason", reason));

    /// <summary>The <c>listener</c> label: <c>ws</c>, <c>wss</c>, <c>tls</c>, <c>dedicated</c>.</summary>
    public static string Name(ProxyListener listener) => listener switch
    {
        ProxyListener.Ws => "ws",
        ProxyListener.Wss => "wss",
        ProxyListener.Tls => "tls",
        _ => "dedicated",
    };
}
