using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Platform.Contracts.Connections;
using Platform.Contracts.Problems;
using Platform.Gateway.Admission;
using Platform.Gateway.Connections;
using Platform.Gateway.Delivery;
using Platform.Gateway.Hosting;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Dtls;

/// <summary>
/// The gateway side of one DTLS listener. <see cref="Admit"/> runs the gateway's admission (drain, suspension,
/// access lists, rate, per-client cap, MaxConnections lease) from memory inside the handshake; an established
/// session becomes a <see cref="DtlsConnection"/> in the <see cref="ConnectionRegistry"/>, with its delivery
/// (echo, forward over UDP, TCP or TLS) run off the listener's receive loop.
/// </summary>
internal sealed partial class DtlsGatewayHandler(
    TenantSnapshotStore store,
    AdmissionController admission,
    ConnectionPump pump,
    GatewayNode node,
    DeliveryFactory deliveries,
    GatewayMetrics metrics,
    TimeProvider time,
    ILogger<DtlsGatewayHandler> logger) : IDtlsSessionHandler
{
    private readonly ConcurrentDictionary<ulong, Admitted> _admitted = new();
    private readonly ConcurrentDictionary<ulong, DtlsConnection> _open = new();
    private readonly ConcurrentDictionary<DtlsConnection, Task> _running = new();

    /// <summary>The listener this handler serves (set once it is created).</summary>
    public DtlsServer? Server { get; set; }

    public DtlsAdmission Admit(DtlsSession session)
    {
        if (session.Tenant is not { } dtlsTenant
            || !Guid.TryParse(dtlsTenant.TenantId, out var tenantId)
            || !store.Current.ById.TryGetValue(tenantId, out var tenant))
        {
            admission.CountRefusal(session.Tenant?.Slug ?? "", ConnectionProtocols.Dtls, RefusalReason.UnknownTenant);
            return DtlsAdmission.Refuse;
        }

        if (!tenant.Accepts(ConnectionProtocols.Dtls))
        {
            admission.CountRefusal(tenant.Slug, ConnectionProtocols.Dtls, RefusalReason.ProtocolNotAllowed);
            return DtlsAdmission.Refuse;
        }

        // Inside the handshake nothing may wait: a burst that outran the leased MaxConnections slots is deferred
        // (no alert), and the client's retransmission (its ClientHello, or for a PSK-only client the flight
        // naming its identity) comes back after the lease round trip.
        var refusal = admission.TryAdmit(tenant, ConnectionProtocols.Dtls, session.RemoteEndPoint.Address, deferLateLease: true, out var ticket, out var deferred);
        if (deferred)
        {
            Log.Deferred(logger, tenant.Slug, session.RemoteEndPoint);
            return DtlsAdmission.Defer;
        }

        if (refusal != RefusalReason.None)
        {
            Log.Refused(logger, tenant.Slug, session.RemoteEndPoint, refusal);
            return DtlsAdmission.Refuse;
        }

        if (!DeliveryFactory.IsServed(tenant))
        {
            // As for TCP and TLS clients: a delivery mode this gateway cannot serve refuses the client.
            ticket!.Dispose();
            admission.CountRefusal(tenant.Slug, ConnectionProtocols.Dtls, RefusalReason.DeliveryUnavailable);
            Log.DeliveryUnavailable(logger, tenant.Slug, tenant.Config.Delivery.Mode);
            return DtlsAdmission.Refuse;
        }

        _admitted[session.Id] = new Admitted(tenant, ticket!);
        return DtlsAdmission.Accept;
    }

    public void OnHalfOpenLimit(DtlsSession session)
    {
        var slug = session.Tenant?.Slug ?? "";
        admission.CountRefusal(slug, ConnectionProtocols.Dtls, RefusalReason.HalfOpenLimit);
        Log.Refused(logger, slug, session.RemoteEndPoint, RefusalReason.HalfOpenLimit);
    }

    public void OnSessionOpened(DtlsSession session)
    {
        if (!_admitted.TryRemove(session.Id, out var admitted))
        {
            session.Close();
            return;
        }

        if (session.EstablishedAt is { } established)
        {
            metrics.HandshakeCompleted(GatewayMetrics.DtlsHandshake, ConnectionProtocols.Dtls, established - session.StartedAt);
        }

        var client = session.ClientCertificate;
        var connection = new DtlsConnection(node.NextConnectionId(), admitted.Tenant, session, Server?.LocalEndPoint.Port ?? 0, admitted.Ticket, time)
        {
            Tls = new TlsFacts(
                session.ServerName,
                session.ProtocolVersion ?? TlsProtocolNames.Dtls12,
                session.CipherSuite ?? "",
                client?.Subject,
                client?.Issuer,
                client?.Sha256Fingerprint.ToLowerInvariant(),
                client is null ? null : true,
                session.PskIdentity,
                session.Engine,
                session.ConnectionId,
                session.RawPublicKeyFingerprint),
        };
        _open[session.Id] = connection;

        // The task is listed before it runs, so its own removal at the end always finds it.
        var listed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _running[connection] = RunAsync(connection, listed.Task);
        listed.SetResult();
    }

    /// <summary>Completes when every connection of this listener has finished (its directory close reported).</summary>
    public Task WhenFinishedAsync() => Task.WhenAll(_running.Values);

    public void OnDatagram(DtlsSession session, DtlsDatagram datagram)
    {
        if (_open.TryGetValue(session.Id, out var connection))
        {
            connection.OnDatagram(datagram);
        }
        else
        {
            datagram.Return();
        }
    }

    public void OnSessionClosed(DtlsSession session, DtlsCloseReason reason)
    {
        if (_admitted.TryRemove(session.Id, out var admitted))
        {
            // The handshake never completed: the slot goes back and the failure counts as a TLS refusal.
            admitted.Ticket.Dispose();
            admission.CountRefusal(admitted.Tenant.Slug, ConnectionProtocols.Dtls, RefusalReason.TlsFailed);
            return;
        }

        if (_open.TryRemove(session.Id, out var connection))
        {
            var (code, text) = reason switch
            {
                DtlsCloseReason.PeerClosed => (CloseCodes.ClientClosed, "client closed"),
                DtlsCloseReason.IdleTimeout => (CloseCodes.IdleTimeout, "idle timeout"),
                DtlsCloseReason.ServerStopping => (CloseCodes.GoingAway, "gateway stopping"),
                DtlsCloseReason.Replaced => (CloseCodes.ClientClosed, "replaced by a new handshake"),
                DtlsCloseReason.ProtocolError => (CloseCodes.ProtocolError, "DTLS protocol error"),
                DtlsCloseReason.LocalClose => (CloseCodes.Disconnected, "closed"),
                DtlsCloseReason.HeartbeatTimeout => (CloseCodes.HeartbeatTimeout, "heartbeat timeout"),
                _ => (CloseCodes.ClientClosed, reason.ToString()),
            };
            connection.OnEnded(code, text);
        }
    }

    public void OnAddressChanged(DtlsSession session)
    {
        if (_open.TryGetValue(session.Id, out var connection))
        {
            // Reported to the directory with the connection's next counters.
            connection.MoveRemote(session.RemoteEndPoint);
        }
    }

    /// <summary>Runs the connection through the <see cref="ConnectionPump"/> until the session ends, then releases its slot.</summary>
    private async Task RunAsync(DtlsConnection connection, Task listed)
    {
        await listed;
        var tenant = connection.Tenant;
        try
        {
            var facts = new ConnectionFacts(
                connection.Id, ConnectionProtocols.Dtls, connection.Remote, Server?.LocalEndPoint ?? new System.Net.IPEndPoint(System.Net.IPAddress.None, 0),
                connection.Session.ServerName, connection.Tls);
            await pump.RunAsync(
                connection,
                connection,
                (facts, cancellationToken) => deliveries.CreateForDatagramsAsync(tenant, facts, connection.Session.MaxDatagramSize, cancellationToken),
                facts,
                connection.Ending);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The pump classifies every fault of a connection; this is the last guard of the listener's task set.
            Log.ConnectionFault(logger, ex, connection.Id);
            connection.Close(CloseCodes.InternalError, "internal error");
        }
        finally
        {
            connection.Ticket.Dispose();
            if (connection.Dropped > 0)
            {
                Log.Dropped(logger, connection.Id, connection.Dropped);
            }

            _running.TryRemove(connection, out _);
        }
    }

    private sealed record Admitted(TenantRuntime Tenant, AdmissionTicket Ticket);

    private static partial class Log
    {
        [LoggerMessage(EventId = 7101, Level = LogLevel.Debug, Message = "Tenant {Tenant}: DTLS handshake from {Remote} refused: {Reason}")]
        public static partial void Refused(ILogger logger, string tenant, System.Net.IPEndPoint remote, RefusalReason reason);

        [LoggerMessage(EventId = 7106, Level = LogLevel.Debug, Message = "Tenant {Tenant}: DTLS handshake from {Remote} deferred until a MaxConnections slot is leased")]
        public static partial void Deferred(ILogger logger, string tenant, System.Net.IPEndPoint remote);

        [LoggerMessage(EventId = 7102, Level = LogLevel.Warning, Message = "Tenant {Tenant}: delivery mode {Mode} is not served for DTLS; handshakes are refused")]
        public static partial void DeliveryUnavailable(ILogger logger, string tenant, string mode);

        [LoggerMessage(EventId = 7104, Level = LogLevel.Error, Message = "DTLS connection {Id} failed")]
        public static partial void ConnectionFault(ILogger logger, Exception exception, string id);

        [LoggerMessage(EventId = 7105, Level = LogLevel.Warning, Message = "DTLS connection {Id}: {Dropped} client datagrams dropped while its delivery was behind")]
        public static partial void Dropped(ILogger logger, string id, long dropped);
    }
}
