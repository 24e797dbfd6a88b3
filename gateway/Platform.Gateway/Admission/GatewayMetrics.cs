using System.Diagnostics.Metrics;

namespace Platform.Gateway.Admission;

/// <summary>
/// The gateway's counters (meter <c>Platform.Gateway</c>). Refusals are also kept in <see cref="Refusals"/>
/// until the heartbeat reports them to the silo.
/// </summary>
internal sealed class GatewayMetrics : IDisposable
{
    public const string MeterName = "Platform.Gateway";
    private static readonly string[] ReasonNames = Enum.GetNames<RefusalReason>().Select(ToSnake).ToArray();
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

    public static string ReasonName(RefusalReason reason) => ReasonNames[(int)reason];

    public static bool TryParseReason(string name, out RefusalReason reason)
    {
        var index = Array.IndexOf(ReasonNames, name);
        reason = (RefusalReason)Math.Max(index, 0);
        return index > 0;
    }

    /// <summary>Counts a refusal; <paramref name="protocol"/> is empty where the refusing code does not know it.</summary>
    public void Refused(string tenant, string protocol, RefusalReason reason)
    {
        _refusals.Add(1, new KeyValuePair<string, object?>("tenant", tenant), new KeyValuePair<string, object?>("protocol", protocol),
            new KeyValuePair<string, object?>("reason", ReasonNames[(int)reason]));
        Refusals.Count(tenant, protocol, reason);
    }

    public void Opened(string tenant, string protocol) =>
        _opened.Add(1, new KeyValuePair<string, object?>("tenant", tenant), new KeyValuePair<string, object?>("protocol", protocol));

    public void Closed(string tenant, string protocol) =>
        _closed.Add(1, new KeyValuePair<string, object?>("tenant", tenant), new KeyValuePair<string, object?>("protocol", protocol));

    public void Dispose() => _meter.Dispose();

    private static string ToSnake(string name)
    {
        var builder = new System.Text.StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
            {
                builder.Append('_');
            }

            builder.Append(char.ToLowerInvariant(name[i]));
        }

        return builder.ToString();
    }
}
