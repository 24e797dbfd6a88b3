using System.Diagnostics.Metrics;
using Platform.Gateway.Admission;
using Platform.Gateway.Connections;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Telemetry;

/// <summary>
/// The gateway's observable gauges, read at each collection from the state that owns the numbers: open connections
/// from the <see cref="ConnectionRegistry"/>, the applied revision from the <see cref="TenantSnapshotStore"/>, slots from
/// the <see cref="LeaseManager"/>. Nothing on a connection's path counts for them.
/// </summary>
internal sealed class GatewayGauges
{
    public GatewayGauges(IMeterFactory meterFactory, ConnectionRegistry registry, TenantSnapshotStore store, LeaseManager leases, GatewayMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        // The factory hands back the meter GatewayMetrics created, so every instrument of the gateway is in one meter.
        var meter = meterFactory.Create(GatewayMetrics.MeterName);
        meter.CreateObservableGauge("platform.gateway.connections.open", () => OpenConnections(registry), "{connection}",
            "Connections open on this gateway, per tenant (slug) and protocol.");
        meter.CreateObservableGauge("platform.gateway.config.revision", () => store.Current.Revision, null,
            "The configuration revision this gateway serves.");
        meter.CreateObservableGauge("platform.gateway.config.revision.lag", () => RevisionLag(store, metrics), null,
            "Revisions between the silo's revision in the last config watch answer and the one this gateway applied.");
        meter.CreateObservableGauge("platform.gateway.lease.slots", () => Slots(leases), "{slot}",
            "MaxConnections slots this gateway holds (state=held) and uses (state=in_use), over every tenant.");
    }

    private static List<Measurement<long>> OpenConnections(ConnectionRegistry registry)
    {
        var counts = new Dictionary<(string Tenant, string Protocol), long>();
        foreach (var connection in registry.All)
        {
            var key = (connection.Tenant.Slug, connection.Protocol);
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }

        var result = new List<Measurement<long>>(counts.Count);
        foreach (var ((tenant, protocol), count) in counts)
        {
            result.Add(new Measurement<long>(count, new KeyValuePair<string, object?>("tenant", tenant), new KeyValuePair<string, object?>("protocol", protocol)));
        }

        return result;
    }

    private static IEnumerable<Measurement<long>> RevisionLag(TenantSnapshotStore store, GatewayMetrics metrics)
    {
        // Before the first watch answer there is nothing to lag behind (a fail-static start serves its saved revision).
        if (metrics.SiloRevision is { } silo)
        {
            yield return new Measurement<long>(Math.Max(0, silo - store.Current.Revision));
        }
    }

    private static Measurement<long>[] Slots(LeaseManager leases)
    {
        var (held, inUse) = leases.Totals();
        return
        [
            new Measurement<long>(held, new KeyValuePair<string, object?>("state", "held")),
            new Measurement<long>(inUse, new KeyValuePair<string, object?>("state", "in_use")),
        ];
    }
}
