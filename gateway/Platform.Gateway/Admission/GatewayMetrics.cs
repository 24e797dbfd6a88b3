using System.Diagnostics.Metrics;
using Platform.Contracts.Problems;

namespace Platform.Gateway.Admission;

/// <summary>
/// The gateway's counters (meter <c>Platform.Gateway</c>). Refusals are also kept in <see cref="Refusals"/>
/// until the heartbeat reports them to the silo.
/// </summary>
internal sealed class GatewayMetrics : IDisposable
{
    public const string MeterName = "Platform.Gateway";
    private readonly Meter _meter;
    private readonly Counter<long> _refusals;
    private readonly Counter<long> _opened;
    private readonly Counter<long> _closed;

    public GatewayMetrics(IMeterFactory meterFactory, TimeProvider? time = null)
    {
        Refusals = new RefusalLedger(time ?? TimeProvider.System);
        _meter = meterFactory.Create(MeterName);
        _refusals = _meter.CreateCounter<long>("platform.gateway.refusals", description: "Connections refused, per tenant and reason.");
        _opened = _meter.CreateCounter<long>("platform.gateway.connections.opened", description: "Connections admitted, per tenant and protocol.");
        _closed = _meter.CreateCounter<long>("platform.gateway.connections.closed", description: "Connections closed, per tenant and protocol.");
    }

    /// <summary>Refusals not yet acknowledged by the silo.</summary>
    public RefusalLedger Refusals { get; }

    /// <summary>Counts a refusal; <paramref name="protocol"/> is empty where the refusing code does not know it.</summary>
    public void Refused(string tenant, string protocol, RefusalReason reason)
    {
        _refusals.Add(1, new KeyValuePair<string, object?>("tenant", tenant), new KeyValuePair<string, object?>("protocol", protocol),
            new KeyValuePair<string, object?>("reason", RefusalReasons.Name(reason)));
        Refusals.Count(tenant, protocol, reason);
    }

    public void Opened(string tenant, string protocol) =>
        _opened.Add(1, new KeyValuePair<string, object?>("tenant", tenant), new KeyValuePair<string, object?>("protocol", protocol));

    public void Closed(string tenant, string protocol) =>
        _closed.Add(1, new KeyValuePair<string, object?>("tenant", tenant), new KeyValuePair<string, object?>("protocol", protocol));

    public void Dispose() => _meter.Dispose();
}
