using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Microsoft.Extensions.Logging;
using Platform.Contracts.Connections;
using Platform.Contracts.Problems;
using Platform.Gateway.Admission;
using Platform.Gateway.Connections;
using Platform.Gateway.Delivery;
using Platform.Gateway.Hosting;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.Tcp;

/// <summary>
/// Serves one admitted TCP or TLS client: starts the delivery (an unreachable forward backend closes
/// the client), then pumps framed client messages to the delivery and delivery output to the client.
/// </summary>
internal sealed partial class TcpPipeline(
    ConnectionRegistry registry,
    AdmissionController admission,
    GatewayNode node,
    DeliveryFactory deliveries,
    TimeProvider time,
    ILogger<TcpPipeline> logger)
{
    /// <summary>Runs the connection to its end. The caller owns <paramref name="ticket"/> and the transport.</summary>
    public async Task RunAsync(TenantRuntime tenant, IDuplexPipe transport, IPEndPoint remote, IPEndPoint local, string protocol, TlsFacts? tls, CancellationToken aborted)
    {
        var connectionId = node.NextConnectionId();
        IDelivery delivery;
        try
        {
            delivery = await deliveries.CreateAsync(tenant, new ConnectionFacts(connectionId, protocol, remote, local, tls?.Sni, tls), messageProtocol: false, aborted);
        }
        catch (BackendUnreachableException ex)
        {
            // A forbidden target closes the client exactly as an unreachable one does; only the count tells them apart.
            admission.CountRefusal(tenant.Slug, protocol, ex.Refusal);
            if (ex.Refusal == RefusalReason.BackendUnreachable)
            {
                Log.BackendUnreachable(logger, tenant.Slug, ex.Target, ex.Reason);
            }

            return;
        }
        catch (NotSupportedException)
        {
            admission.CountRefusal(tenant.Slug, protocol, RefusalReason.DeliveryUnavailable);
            return;
        }
        catch (ConnectionRejectedException ex)
        {
            // A stream has no way to say why: the connection closes, and the tenant's refusal counts name the reason.
            admission.CountRefusal(tenant.Slug, protocol, ex.Refusal);
            return;
        }

        await using (delivery)
        {
            using var connection = new TcpConnection(connectionId, tenant, protocol, remote, local.Port, time, transport) { Tls = tls };
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(aborted, connection.Closing);
            registry.Add(connection);
            var backend = RunDeliveryAsync(connection, delivery, stop);
            try
            {
                await ReadClientAsync(connection, delivery, new StreamFramer(tenant.Config.Framing), stop.Token);
                connection.RecordClose(CloseCodes.ClientClosed, "client closed");
            }
            catch (OperationCanceledException)
            {
                connection.RecordClose(CloseCodes.ClientClosed, "aborted");
            }
            catch (IOException ex)
            {
                connection.RecordClose(CloseCodes.ClientClosed, ex.Message);
            }
            finally
            {
                await stop.CancelAsync();
                await backend;
                registry.Remove(connection);
            }
        }
    }

    private static async Task ReadClientAsync(TcpConnection connection, IDelivery delivery, StreamFramer framer, CancellationToken cancellationToken)
    {
        var input = connection.Transport.Input;
        long counted = 0;
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken);
            var buffer = result.Buffer;

            // Bytes left unframed by the previous read are re-read; count only what is new.
            if (buffer.Length > counted)
            {
                connection.CountIn((int)(buffer.Length - counted), 0);
            }

            while (framer.TryRead(ref buffer, result.IsCompleted, out var message))
            {
                connection.CountIn(0, 1);
                await DeliverAsync(delivery, message, cancellationToken);
            }

            counted = buffer.Length;
            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted || result.IsCanceled)
            {
                return;
            }
        }
    }

    private static async ValueTask DeliverAsync(IDelivery delivery, ReadOnlySequence<byte> message, CancellationToken cancellationToken)
    {
        if (message.IsSingleSegment)
        {
            await delivery.OnClientMessageAsync(message.First, text: false, cancellationToken);
            return;
        }

        var length = (int)message.Length;
        var rented = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            message.CopyTo(rented);
            await delivery.OnClientMessageAsync(rented.AsMemory(0, length), text: false, cancellationToken);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static async Task RunDeliveryAsync(TcpConnection connection, IDelivery delivery, CancellationTokenSource stop)
    {
        await Task.Yield();
        try
        {
            var end = await delivery.RunAsync(connection, stop.Token);
            if (end != DeliveryEnd.Cancelled)
            {
                connection.Close(CloseCodes.BackendClosed, end == DeliveryEnd.DestinationClosed ? "backend closed" : "backend failed");
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
        {
            connection.Close(CloseCodes.ClientClosed, "client write failed");
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 6001, Level = LogLevel.Warning, Message = "Tenant {Tenant}: backend {Target} unreachable: {Reason}; client closed")]
        public static partial void BackendUnreachable(ILogger logger, string tenant, string target, string reason);
    }
}
