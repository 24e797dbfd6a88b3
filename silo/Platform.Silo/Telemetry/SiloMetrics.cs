using System.Diagnostics.Metrics;

namespace Platform.Silo.Telemetry;

/// <summary>The silo's own instruments (meter <c>Platform.Silo</c>); docs/metrics.md lists them as Prometheus shows them.</summary>
internal sealed class SiloMetrics
{
    public const string MeterName = "Platform.Silo";

    private readonly Counter<long> _grants;
    private readonly Counter<long> _slotsGranted;

    public SiloMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        _grants = meter.CreateCounter<long>("platform.silo.lease.grants", "{answer}",
            "Lease answers of the tenant quota grains, by result: granted (what was asked), short (the tenant is at its MaxConnections), reclaiming (slots are being freed elsewhere).");
        _slotsGranted = meter.CreateCounter<long>("platform.silo.lease.slots.granted", "{slot}",
            "MaxConnections slots the quota grains granted gateways beyond what each held.");
    }

    /// <summary>A quota grain answered a gateway that asked for <paramref name="asked"/> slots holding <paramref name="held"/>.</summary>
    public void LeaseAnswered(int asked, int held, int answer, bool reclaiming)
    {
        var result = reclaiming ? "reclaiming" : answer < asked ? "short" : "granted";
        _grants.Add(1, new KeyValuePair<string, object?>("result", result));
        if (answer > held)
        {
            _slotsGranted.Add(answer - held);
        }
    }
}
