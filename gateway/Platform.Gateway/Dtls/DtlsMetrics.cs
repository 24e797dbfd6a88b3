using System.Diagnostics.Metrics;
using System.Globalization;
using System.Runtime.CompilerServices;
using Platform.Gateway.Admission;

namespace Platform.Gateway.Dtls;

/// <summary>
/// The DTLS listeners' counters (<see cref="DtlsServerCounters"/>, <see cref="DtlsBcCounters"/>) as observable
/// instruments on the gateway's meter, one series per running listener (labels <c>listener</c>: <c>shared</c> or
/// <c>dedicated</c>, and <c>port</c>). They are read at each collection from the counters the listeners keep anyway,
/// so the datagram path does no work for them; a listener that stops (a dedicated port the snapshot dropped) stops
/// reporting at the next collection. docs/metrics.md lists them.
/// </summary>
internal sealed class DtlsMetrics
{
    /// <summary>Values of the <c>engine</c> label.</summary>
    public const string OpenSsl = "openssl";

    /// <inheritdoc cref="OpenSsl"/>
    public const string BouncyCastle = "bouncycastle";

    private readonly DtlsListeners _listeners;
    private readonly ConditionalWeakTable<DtlsServer, ListenerState> _states = [];

    public DtlsMetrics(IMeterFactory meterFactory, DtlsListeners listeners)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _listeners = listeners;
        // The factory hands back the meter GatewayMetrics created, so every instrument of the gateway is in one meter.
        var meter = meterFactory.Create(GatewayMetrics.MeterName);

        Counter(meter, "platform.gateway.dtls.datagrams", "{datagram}",
            "Datagrams the DTLS listener read (direction=in) and wrote (direction=out), handshakes and cookie exchanges included.",
            new("direction", "in", static s => s.Counters.DatagramsIn),
            new("direction", "out", static s => s.Counters.DatagramsOut));
        Counter(meter, "platform.gateway.dtls.io", "By",
            "UDP payload bytes the DTLS listener read (direction=in) and wrote (direction=out).",
            new("direction", "in", static s => s.Counters.BytesIn),
            new("direction", "out", static s => s.Counters.BytesOut));
        Counter(meter, "platform.gateway.dtls.datagrams.dropped", "{datagram}",
            "Datagrams the DTLS listener dropped unanswered, by reason (malformed, unknown_session, session_queue_full, unknown_connection_id, handshake_rejected).",
            new("reason", "malformed", static s => s.Counters.MalformedDropped),
            new("reason", "unknown_session", static s => s.Counters.UnknownSessionDropped),
            new("reason", "session_queue_full", static s => s.Counters.SessionQueueDropped),
            new("reason", "unknown_connection_id", static s => s.BcCounters.UnknownConnectionIdDropped),
            new("reason", "handshake_rejected", static s => s.BcCounters.HandshakeDatagramsRejected));
        Counter(meter, "platform.gateway.dtls.hello_verify_requests", "{message}",
            "HelloVerifyRequests sent: ClientHellos that came without a valid cookie.",
            new Series(static s => s.Counters.HelloVerifyRequestsSent));
        Counter(meter, "platform.gateway.dtls.cookies.rejected", "{hello}",
            "ClientHellos whose cookie did not verify (another address, an expired secret, forged); each was answered with a fresh HelloVerifyRequest.",
            new Series(static s => s.Counters.CookieRejected));
        Counter(meter, "platform.gateway.dtls.hellos.engine_rejected", "{hello}",
            "Cookie-verified ClientHellos the chosen engine's own parser refused; dropped.",
            new Series(static s => s.Counters.HelloRejectedByEngine));
        ByEngine(meter, EngineCounter.Started, "platform.gateway.dtls.handshakes.started",
            "Handshakes started after a valid cookie, by engine (openssl, bouncycastle).",
            static s => s.Counters.HandshakesStarted, static s => s.BcCounters.HandshakesStarted);
        ByEngine(meter, EngineCounter.Completed, "platform.gateway.dtls.handshakes.completed",
            "Handshakes completed, by engine.",
            static s => s.Counters.HandshakesCompleted, static s => s.BcCounters.HandshakesCompleted);
        ByEngine(meter, EngineCounter.Failed, "platform.gateway.dtls.handshakes.failed",
            "Handshakes that ended with an alert or an error, by engine.",
            static s => s.Counters.HandshakesFailed, static s => s.BcCounters.HandshakesFailed);
        ByEngine(meter, EngineCounter.TimedOut, "platform.gateway.dtls.handshakes.timed_out",
            "Handshakes that did not complete in time or ran out of retransmissions, by engine.",
            static s => s.Counters.HandshakesTimedOut, static s => s.BcCounters.HandshakesTimedOut);
        Counter(meter, "platform.gateway.dtls.handshakes.refused", "{handshake}",
            "Cookie-verified handshakes refused by a cap, the session limit, a tenant's half-open limits or admission; the client got silence or an alert.",
            new Series(static s => s.Counters.Refused));
        Counter(meter, "platform.gateway.dtls.handshakes.cap_dropped", "{handshake}",
            "Refused handshakes dropped by a listener-wide cap, by cap (unassigned: too many handshakes waiting for a tenant; bouncycastle: the BouncyCastle handshake caps).",
            new("cap", "unassigned", static s => s.Counters.UnassignedDropped),
            new("cap", "bouncycastle", static s => s.BcCounters.HandshakeCapDropped));
        Counter(meter, "platform.gateway.dtls.handshakes.deferred", "{handshake}",
            "Handshakes admission deferred (no MaxConnections slot yet): ended silently for the client to retry.",
            new Series(static s => s.Counters.Deferred));
        Counter(meter, "platform.gateway.dtls.sessions.closed", "{session}",
            "DTLS sessions ended for any reason, handshaking or established.",
            new Series(static s => s.Counters.SessionsClosed));
        Counter(meter, "platform.gateway.dtls.sends.oversized", "{datagram}",
            "Datagrams to a client refused because they do not fit one record within the MTU.",
            new Series(static s => s.Counters.OversizedSends));
        Counter(meter, "platform.gateway.dtls.socket.errors", "{error}",
            "Errors of the DTLS listener's socket sends and receives.",
            new Series(static s => s.Counters.SocketErrors));
        Counter(meter, "platform.gateway.dtls.internal.errors", "{error}",
            "Unexpected faults the DTLS listener caught (each cost at most its session).",
            new Series(static s => s.Counters.InternalErrors));
        Counter(meter, "platform.gateway.dtls.handover.sessions", "{session}",
            "OpenSSL handshakes after which the gateway's own record layer took over (outcome=handed_over) or the session stayed on OpenSSL (not_covered: a suite it does not protect; check_failed: the derived keys' self-check).",
            new("outcome", "handed_over", static s => s.Counters.RecordProtectionHandedOver),
            new("outcome", "not_covered", static s => s.Counters.HandoverNotCovered),
            new("outcome", "check_failed", static s => s.Counters.HandoverCheckFailed));
        Counter(meter, "platform.gateway.dtls.handover.records.dropped", "{record}",
            "Records of handed-over sessions dropped, by reason (bad_tag: authentication failed; unusable: replayed, another epoch, clear text or of no use).",
            new("reason", "bad_tag", static s => s.Counters.OffloadBadRecords),
            new("reason", "unusable", static s => s.Counters.OffloadRecordsDropped));
        Counter(meter, "platform.gateway.dtls.handover.final_flights.resent", "{flight}",
            "Final handshake flights a handed-over session sent again because the client retransmitted its own.",
            new Series(static s => s.Counters.FinalFlightsResent));
        Counter(meter, "platform.gateway.dtls.connection_id.address_changes", "{change}",
            "BouncyCastle sessions moved to a new client address by an authenticated record with their connection ID.",
            new Series(static s => s.BcCounters.AddressChanges));
        Counter(meter, "platform.gateway.dtls.heartbeat.timeouts", "{session}",
            "BouncyCastle sessions ended because a heartbeat request went unanswered.",
            new Series(static s => s.BcCounters.HeartbeatTimeouts));
        meter.CreateObservableUpDownCounter("platform.gateway.dtls.openssl.objects",
            () => Observe([new(static s => s.Counters.OpenSslObjectsHeld)]), "{object}",
            "OpenSSL SSL objects the DTLS listener's sessions hold now (handed-over sessions hold none).");
    }

    private void Counter(Meter meter, string name, string unit, string description, params Series[] series) =>
        meter.CreateObservableCounter(name, () => Observe(series), unit, description);

    private List<Measurement<long>> Observe(Series[] series)
    {
        var running = _listeners.Running;
        var measurements = new List<Measurement<long>>(running.Count * series.Length);
        foreach (var (port, server) in running)
        {
            var state = State(port, server);
            foreach (var one in series)
            {
                measurements.Add(new Measurement<long>(one.Read(server), one.Label is { } label ? state.With(label) : state.Tags));
            }
        }

        return measurements;
    }

    /// <summary>
    /// A handshake counter per engine: the OpenSSL count is the listener's total less the BouncyCastle count. A
    /// BouncyCastle handshake is counted in its engine's counter before the total, and the total is read here before
    /// the engine's counter, so the difference is never above the true OpenSSL count; it can be below it (by the
    /// BouncyCastle handshakes counted between the two reads), so it is kept from going under the last one reported.
    /// </summary>
    private void ByEngine(Meter meter, EngineCounter counter, string name, string description, Func<DtlsServer, long> all, Func<DtlsServer, long> bc) =>
        meter.CreateObservableCounter(name, () => ObserveByEngine(counter, all, bc), "{handshake}", description);

    private List<Measurement<long>> ObserveByEngine(EngineCounter counter, Func<DtlsServer, long> all, Func<DtlsServer, long> bc)
    {
        var running = _listeners.Running;
        var measurements = new List<Measurement<long>>(running.Count * 2);
        foreach (var (port, server) in running)
        {
            var state = State(port, server);
            var total = all(server);
            var bouncyCastle = bc(server);
            long openSsl;
            lock (state)
            {
                ref var last = ref state.OpenSslLast[(int)counter];
                openSsl = last = Math.Max(last, total - bouncyCastle);
            }

            measurements.Add(new Measurement<long>(openSsl, state.With(new("engine", OpenSsl))));
            measurements.Add(new Measurement<long>(bouncyCastle, state.With(new("engine", BouncyCastle))));
        }

        return measurements;
    }

    private ListenerState State(int port, DtlsServer server) =>
        _states.GetValue(server, s => new ListenerState(port, s.Options.DedicatedTenantId is not null));

    private enum EngineCounter
    {
        Started,
        Completed,
        Failed,
        TimedOut,
    }

    /// <summary>One series of an instrument: its own label (none for a single-series instrument) and the counter it reads.</summary>
    private sealed record Series(KeyValuePair<string, object?>? Label, Func<DtlsServer, long> Read)
    {
        public Series(Func<DtlsServer, long> read)
            : this(null, read)
        {
        }

        public Series(string name, string value, Func<DtlsServer, long> read)
            : this(new KeyValuePair<string, object?>(name, value), read)
        {
        }
    }

    /// <summary>A listener's labels, made once, and the last OpenSSL handshake counts reported for it.</summary>
    private sealed class ListenerState(int port, bool dedicated)
    {
        public KeyValuePair<string, object?>[] Tags { get; } =
        [
            new("listener", dedicated ? "dedicated" : "shared"),
            new("port", port.ToString(CultureInfo.InvariantCulture)),
        ];

        /// <summary>The last OpenSSL value reported per <see cref="EngineCounter"/>; read and written under the state's lock.</summary>
        public long[] OpenSslLast { get; } = new long[4];

        public KeyValuePair<string, object?>[] With(KeyValuePair<string, object?> label) => [.. Tags, label];
    }
}
