using System.Diagnostics.Metrics;
using Platform.Contracts.Problems;

namespace Platform.Gateway.Admission;

/// <summary>
/// The gateway's instruments (meter <c>Platform.Gateway</c>); the observable ones, read from the registry, the snapshot
/// and the leases, are in <see cref="Telemetry.GatewayGauges"/>. Refusals are also kept in <see cref="Refusals"/> until
/// the heartbeat reports them to the silo. docs/metrics.md lists every instrument as Prometheus shows it.
/// </summary>
internal sealed class GatewayMetrics : IDisposable
{
    public const string MeterName = "Platform.Gateway";

    /// <summary>Values of the <c>handshake</c> label of <see cref="HandshakeCompleted"/>.</summary>
    public const string TlsHandshake = "tls";

    /// <inheritdoc cref="TlsHandshake"/>
    public const string DtlsHandshake = "dtls";

    /// <inheritdoc cref="TlsHandshake"/>
    public const string WebSocketUpgrade = "websocket";

    // From a millisecond (a loopback upgrade) to the gateway's longest handshake timeout.
    private static readonly double[] HandshakeBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30];

    // From one lease round trip on loopback to well past the default wait (LeaseWaitMilliseconds).
    private static readonly double[] LeaseWaitBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

    private readonly Meter _meter;
    private readonly Counter<long> _refusals;
    private readonly Counter<long> _opened;
    private readonly Counter<long> _closed;
    private readonly Counter<long> _admissions;
    private readonly Histogram<double> _handshakes;
    private readonly Counter<long> _slotsGranted;
    private readonly Histogram<double> _leaseWaits;
    private long _siloRevision = -1;

    public GatewayMetrics(IMeterFactory meterFactory, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        Refusals = new RefusalLedger(time ?? TimeProvider.System);
        _meter = meterFactory.Create(MeterName);
        _refusals = _meter.CreateCounter<long>("platform.gateway.refusals", "{connection}", "Connections refused, per tenant, protocol and reason.");
        _opened = _meter.CreateCounter<long>("platform.gateway.connections.opened", "{connection}", "Connections opened, per tenant and protocol.");
        _closed = _meter.CreateCounter<long>("platform.gateway.connections.closed", "{connection}", "Connections closed, per tenant and protocol.");
        _admissions = _meter.CreateCounter<long>("platform.gateway.admissions", "{connection}", "Connections admission let through, per protocol.");
        _handshakes = _meter.CreateHistogram("platform.gateway.handshake.duration", "s",
            "Completed handshakes (TLS, DTLS, WebSocket upgrade) by kind and protocol, from the first byte awaited to the last byte sent.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = HandshakeBuckets });
        _slotsGranted = _meter.CreateCounter<long>("platform.gateway.lease.slots.granted", "{slot}", "MaxConnections slots the silo granted this gateway beyond what it held.");
        _leaseWaits = _meter.CreateHistogram("platform.gateway.lease.wait.duration", "s",
            "Connections that found no free MaxConnections slot and waited for a lease round trip, by outcome, and how long they waited.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LeaseWaitBuckets });
    }

    /// <summary>Refusals not yet acknowledged by the silo.</summary>
    public RefusalLedger Refusals { get; }

    /// <summary>The revision the silo's last config watch answer carried; null before the first answer.</summary>
    public long? SiloRevision => Interlocked.Read(ref _siloRevision) is var revision and >= 0 ? revision : null;

    /// <summary>Counts a refusal; <paramref name="protocol"/> is empty where the refusing code does not know it.</summary>
    public void Refused(string tenant, string protocol, RefusalReason reason)
    {
        _refusals.Add(1, new KeyValuePair<string, object?>("tenant", tenant), new KeyValuePair<string, object?>("protocol", protocol),
            new KeyValuePair<string, object?>("reason", RefusalReasons.Name(reason)));
        Refusals.Count(tenant, protocol, reason);
    }

    /// <summary>A connection passed admission (it holds a MaxConnections slot).</summary>
    public void Admitted(string protocol) => _admissions.Add(1, new KeyValuePair<string, object?>("protocol", protocol));

    public void Opened(string tenant, string protocol) =>
        _opened.Add(1, new KeyValuePair<string, object?>("tenant", tenant), new KeyValuePair<string, object?>("protocol", protocol));

    public void Closed(string tenant, string protocol) =>
        _closed.Add(1, new KeyValuePair<string, object?>("tenant", tenant), new KeyValuePair<string, object?>("protocol", protocol));

    /// <summary>A handshake completed: <paramref name="handshake"/> is <see cref="TlsHandshake"/>, <see cref="DtlsHandshake"/> or <see cref="WebSocketUpgrade"/>.</summary>
    public void HandshakeCompleted(string handshake, string protocol, TimeSpan duration) =>
        _handshakes.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("handshake", handshake), new KeyValuePair<string, object?>("protocol", protocol));

    /// <summary>A lease answer raised what this gateway holds of a tenant by <paramref name="slots"/>.</summary>
    public void SlotsGranted(int slots)
    {
        if (slots > 0)
        {
            _slotsGranted.Add(slots);
        }
    }

    /// <summary>A connection waited for a slot: <paramref name="outcome"/> is <c>acquired</c>, <c>refused</c> or <c>abandoned</c>.</summary>
    public void LeaseWaited(string outcome, TimeSpan duration) =>
        _leaseWaits.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("outcome", outcome));

    /// <summary>The config watch answered with the silo's <paramref name="revision"/> (before the gateway applies it).</summary>
    public void SiloRevisionSeen(long revision) => Interlocked.Exchange(ref _siloRevision, Math.Max(0, revision));

    public void Dispose() => _meter.Dispose();
}
