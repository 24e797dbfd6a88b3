using Microsoft.Extensions.Logging;
using Platform.Contracts.Problems;
using Platform.Gateway.Admission;
using Platform.Gateway.Delivery;

namespace Platform.Gateway.Connections;

/// <summary>
/// Runs one admitted connection of any protocol (ws, wss, TCP, TLS, DTLS) from its delivery to its end: creates the
/// delivery (an unreachable or forbidden backend, or a delivery this gateway cannot serve, refuses the client with the
/// protocol's signal), registers the connection, pumps both directions, cancels the other direction when one ends,
/// unregisters and disposes. Every protocol ends the same way for the same cause (<see cref="CloseCodes"/>):
/// <list type="bullet">
/// <item>the backend closes or fails, or a client message cannot be written to it: 4001;</item>
/// <item>the client closes, drops, or a send to it fails: 4003 (a WebSocket close frame keeps the client's code);</item>
/// <item>anything unexpected: 1011, logged; one connection's fault never reaches its listener.</item>
/// </list>
/// </summary>
internal sealed partial class ConnectionPump(ConnectionRegistry registry, AdmissionController admission, ILogger<ConnectionPump> logger)
{
    /// <summary>
    /// Runs <paramref name="connection"/> to its end. <paramref name="createDelivery"/> throws
    /// <see cref="BackendUnreachableException"/>, <see cref="ConnectionRejectedException"/> (a tenant's webhook said no) or
    /// <see cref="NotSupportedException"/> to refuse. The caller keeps its
    /// admission ticket and transport; the pump disposes <paramref name="client"/>.
    /// </summary>
    public async Task RunAsync(
        GatewayConnection connection,
        IPumpedClient client,
        Func<ConnectionFacts, CancellationToken, ValueTask<IDelivery>> createDelivery,
        ConnectionFacts facts,
        CancellationToken aborted)
    {
        using (client)
        {
            var delivery = await StartDeliveryAsync(connection, client, createDelivery, facts, aborted);

            // This state machine lives as long as the connection: the factory (a closure per connection) is not kept.
            createDelivery = null!;
            if (delivery is null)
            {
                return;
            }

            // The pump runs in this method's own state machine (not a nested one): one object fewer per live connection.
            await using (delivery)
            {
                // Listed before the client is told it is accepted: a client that holds an open connection finds it in the
                // registry (and the directory) at once, and commands can reach it.
                connection.Describe(delivery);
                registry.Add(connection);
                // A protocol whose abort token is its Ending (DTLS) links the one token once: one registration fewer per connection.
                using var stop = aborted == client.Ending
                    ? CancellationTokenSource.CreateLinkedTokenSource(aborted)
                    : CancellationTokenSource.CreateLinkedTokenSource(aborted, client.Ending);
                var destination = Task.CompletedTask;
                try
                {
                    await client.AcceptAsync(stop.Token);
                    destination = RunDestinationAsync(connection, client, delivery, stop.Token);
                    await client.ReadAsync(new BackendWriter(delivery), stop.Token);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    await OnFaultAsync(connection, client, ex, reading: true, stop.Token);
                }
                finally
                {
                    await stop.CancelAsync();
                    await destination;
                    registry.Remove(connection);
                }
            }
        }
    }

    private async Task<IDelivery?> StartDeliveryAsync(
        GatewayConnection connection,
        IPumpedClient client,
        Func<ConnectionFacts, CancellationToken, ValueTask<IDelivery>> createDelivery,
        ConnectionFacts facts,
        CancellationToken aborted)
    {
        var tenant = connection.Tenant;
        RefusalReason refusal;
        int? status = null;
        string? detail = null;
        try
        {
            return await createDelivery(facts, aborted);
        }
        catch (BackendUnreachableException ex)
        {
            // A forbidden target is answered as an unreachable one (no port-scan oracle); only the count tells them apart.
            admission.CountRefusal(tenant.Slug, connection.Protocol, ex.Refusal);
            if (ex.Refusal == RefusalReason.BackendUnreachable)
            {
                Log.BackendUnreachable(logger, tenant.Slug, connection.Protocol, ex.Target, ex.Reason);
            }

            connection.RecordClose(CloseCodes.BackendClosed, "backend unreachable");
            refusal = RefusalReason.BackendUnreachable;
        }
        catch (ConnectionRejectedException ex)
        {
            admission.CountRefusal(tenant.Slug, connection.Protocol, ex.Refusal);
            connection.RecordClose(CloseCodes.PolicyViolation, RefusalReasons.Name(ex.Refusal));
            (refusal, status, detail) = (ex.Refusal, ex.Status, ex.Reason);
        }
        catch (NotSupportedException)
        {
            admission.CountRefusal(tenant.Slug, connection.Protocol, RefusalReason.DeliveryUnavailable);
            connection.RecordClose(CloseCodes.InternalError, "delivery unavailable");
            refusal = RefusalReason.DeliveryUnavailable;
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested || client.Ending.IsCancellationRequested)
        {
            connection.RecordClose(CloseCodes.ClientClosed, "aborted");
            return null;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.ConnectionFault(logger, ex, connection.Id, connection.Protocol);
            admission.CountRefusal(tenant.Slug, connection.Protocol, RefusalReason.DeliveryUnavailable);
            connection.RecordClose(CloseCodes.InternalError, "internal error");
            refusal = RefusalReason.DeliveryUnavailable;
        }

        try
        {
            await client.RefuseAsync(refusal, status, detail, aborted);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away before it could be told.
        }

        return null;
    }

    /// <summary>Moves the delivery's output to the client until either side ends; never throws.</summary>
    private async Task RunDestinationAsync(GatewayConnection connection, IPumpedClient client, IDelivery delivery, CancellationToken cancellationToken)
    {
        await Task.Yield();
        try
        {
            var end = await delivery.RunAsync(new ClientSink(connection), cancellationToken);
            if (end != DeliveryEnd.Cancelled)
            {
                await CloseAsync(connection, CloseCodes.BackendClosed, end == DeliveryEnd.DestinationClosed ? "backend closed" : "backend failed");
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            await OnFaultAsync(connection, client, ex, reading: false, cancellationToken);
        }
    }

    /// <summary>The one classification of a fault in either direction (see the class summary and docs/architecture.md).</summary>
    private async Task OnFaultAsync(GatewayConnection connection, IPumpedClient client, Exception fault, bool reading, CancellationToken cancellationToken)
    {
        // The protocol knows its reader's faults best, also while the connection is ending (a WebSocket the runtime
        // aborted for a missing pong ends the transport too).
        if (reading && client.TryClassifyReadFault(fault, out var code, out var reason))
        {
            connection.RecordClose(code, reason);
            return;
        }

        if (IsEnding(fault, client, cancellationToken))
        {
            // Ended from elsewhere (a close, a command, the other direction): that cause is recorded already, or the reader's
            // own end records it. Only the reader falls back to a code, so that the directory never lists a close without one.
            if (reading)
            {
                connection.RecordClose(CloseCodes.ClientClosed, "aborted");
            }

            return;
        }

        switch (fault)
        {
            case BackendWriteException:
                Log.BackendWriteFailed(logger, connection.Id, fault.InnerException?.Message);
                await CloseAsync(connection, CloseCodes.BackendClosed, "backend failed");
                return;
            case ClientWriteException:
                await CloseAsync(connection, CloseCodes.ClientClosed, "client write failed");
                return;
        }

        Log.ConnectionFault(logger, fault, connection.Id, connection.Protocol);
        await CloseAsync(connection, CloseCodes.InternalError, "internal error");
    }

    /// <summary>A cancellation (or a client send cancelled) while the connection is being stopped is its end, not a fault.</summary>
    private static bool IsEnding(Exception fault, IPumpedClient client, CancellationToken cancellationToken) =>
        (cancellationToken.IsCancellationRequested || client.Ending.IsCancellationRequested)
        && fault is OperationCanceledException or ClientWriteException { InnerException: OperationCanceledException };

    private static async Task CloseAsync(GatewayConnection connection, int code, string reason)
    {
        try
        {
            await connection.CloseAsync(code, reason);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The client is gone already; the code is recorded.
            connection.RecordClose(code, reason);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3301, Level = LogLevel.Warning, Message = "Tenant {Tenant}: backend {Target} unreachable: {Reason}; {Protocol} client refused")]
        public static partial void BackendUnreachable(ILogger logger, string tenant, string protocol, string target, string reason);

        [LoggerMessage(EventId = 3302, Level = LogLevel.Debug, Message = "Connection {Id}: backend write failed: {Error}")]
        public static partial void BackendWriteFailed(ILogger logger, string id, string? error);

        [LoggerMessage(EventId = 3303, Level = LogLevel.Error, Message = "Connection {Id} ({Protocol}) failed")]
        public static partial void ConnectionFault(ILogger logger, Exception exception, string id, string protocol);
    }
}
