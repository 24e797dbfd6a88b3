using System.Text;
using Microsoft.Extensions.Logging;
using Platform.Cluster;
using Platform.Contracts.Connections;
using Platform.Contracts.Problems;
using Platform.Gateway.Admission;
using Platform.Gateway.Connections;

namespace Platform.Gateway.Commands;

/// <summary>
/// Commands from the cluster for the connections this node holds, as its <see cref="IGatewayObserver"/>: send,
/// disconnect, broadcast, drain and lease sync. The cluster client holds this object only weakly: it lives as a
/// singleton for the whole process, and its reference is created once per connected client.
/// </summary>
internal sealed partial class GatewayCommands(
    ConnectionRegistry registry,
    DrainState drain,
    LeaseManager leases,
    TimeProvider time,
    ILogger<GatewayCommands> logger) : IGatewayObserver
{
    /// <summary>How long one send to one client may take before the command answers not found.</summary>
    public static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Most tenants one lease-sync command may name.</summary>
    public const int MaxLeaseSyncTenants = 10_000;

    /// <summary>Longest disconnect reason, in bytes of UTF-8 (what a WebSocket close frame carries).</summary>
    public const int MaxReasonBytes = 123;

    public Task<GatewayCommandAnswer> ExecuteAsync(GatewayCommand command) => command switch
    {
        SendCommand send => SendAsync(send),
        DisconnectCommand disconnect => Task.FromResult(Disconnect(disconnect)),
        BroadcastCommand broadcast => Task.FromResult(Broadcast(broadcast)),
        DrainCommand drainCommand => Task.FromResult(Drain(drainCommand)),
        SyncLeasesCommand sync => Task.FromResult(SyncLeases(sync)),
        _ => Task.FromResult(GatewayCommandAnswer.Invalid(Error("command", $"'{command?.GetType().Name}' is not a command this gateway knows."))),
    };

    private async Task<GatewayCommandAnswer> SendAsync(SendCommand command)
    {
        if (!TryPayload(command.Message, out var payload, out var text, out var invalid))
        {
            return invalid;
        }

        if (registry.Find(command.ConnectionId ?? "") is not { } connection)
        {
            return GatewayCommandAnswer.NotFound;
        }

        using var timeout = new CancellationTokenSource(SendTimeout, time);
        try
        {
            await connection.SendAsync(payload, text, timeout.Token);
        }
        catch (Dtls.DatagramTooLargeException ex)
        {
            return GatewayCommandAnswer.Invalid(Error(text ? "text" : "binary", $"A DTLS datagram carries at most {ex.Limit} bytes."));
        }
        catch (Exception ex) when (ex is OperationCanceledException or System.Net.WebSockets.WebSocketException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The connection closed, or stopped reading, while the message was on its way.
            Log.SendFailed(logger, command.ConnectionId!, ex);
            return GatewayCommandAnswer.NotFound;
        }

        return GatewayCommandAnswer.Accepted;
    }

    private GatewayCommandAnswer Disconnect(DisconnectCommand command)
    {
        if (command.Request is not { } request)
        {
            return GatewayCommandAnswer.Invalid(Error("request", "The disconnect request is required."));
        }

        if (request.Code != CloseCodes.Normal && request.Code is < 3000 or > 4999)
        {
            return GatewayCommandAnswer.Invalid(Error("code", "The close code is 1000 or 3000..4999."));
        }

        if (request.Reason is not null && Encoding.UTF8.GetByteCount(request.Reason) > MaxReasonBytes)
        {
            return GatewayCommandAnswer.Invalid(Error("reason", $"The reason is at most {MaxReasonBytes} bytes of UTF-8."));
        }

        if (registry.Find(command.ConnectionId ?? "") is not { } connection)
        {
            return GatewayCommandAnswer.NotFound;
        }

        connection.Close(request.Code, request.Reason);
        return GatewayCommandAnswer.Accepted;
    }

    private GatewayCommandAnswer Broadcast(BroadcastCommand command)
    {
        if (!TryPayload(command.Message, out var payload, out var text, out var invalid))
        {
            return invalid;
        }

        long delivered = 0;
        foreach (var connection in registry.All)
        {
            if (connection.Tenant.Id == command.TenantId)
            {
                delivered++;
                _ = SendQuietlyAsync(connection, payload, text);
            }
        }

        return new GatewayCommandAnswer(GatewayCallStatus.Accepted, Delivered: delivered);
    }

    private GatewayCommandAnswer Drain(DrainCommand command)
    {
        if (command.Request is not { } request)
        {
            return GatewayCommandAnswer.Invalid(Error("request", "The drain request is required."));
        }

        if (request.DeadlineSeconds < 0)
        {
            return GatewayCommandAnswer.Invalid(Error("deadlineSeconds", "Must be 0 or more."));
        }

        drain.Begin(request.DeadlineSeconds == 0 ? null : time.GetUtcNow().AddSeconds(request.DeadlineSeconds));
        return GatewayCommandAnswer.Accepted;
    }

    private GatewayCommandAnswer SyncLeases(SyncLeasesCommand command)
    {
        if (command.TenantIds is not { } tenantIds)
        {
            return GatewayCommandAnswer.Invalid(Error("tenantIds", "The tenant ids are required."));
        }

        if (tenantIds.Count > MaxLeaseSyncTenants)
        {
            return GatewayCommandAnswer.Invalid(Error("tenantIds", $"At most {MaxLeaseSyncTenants} tenants."));
        }

        leases.ReportNow(tenantIds);
        return GatewayCommandAnswer.Accepted;
    }

    /// <summary>One send of a broadcast; it observes its own outcome, so nothing is left unobserved.</summary>
    private async Task SendQuietlyAsync(GatewayConnection connection, ReadOnlyMemory<byte> payload, bool text)
    {
        using var timeout = new CancellationTokenSource(SendTimeout, time);
        try
        {
            await connection.SendAsync(payload, text, timeout.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or System.Net.WebSockets.WebSocketException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            // A connection closing while a broadcast reaches it simply misses the message.
            Log.SendFailed(logger, connection.Id, ex);
        }
    }

    private static bool TryPayload(SendMessageRequest? request, out ReadOnlyMemory<byte> payload, out bool text, out GatewayCommandAnswer invalid)
    {
        payload = default;
        text = false;
        invalid = GatewayCommandAnswer.Accepted;
        if (request is null || (request.Text is null) == (request.Binary is null))
        {
            invalid = GatewayCommandAnswer.Invalid(Error("text", "Exactly one of text or binary is required."));
            return false;
        }

        if (request.Text is not null)
        {
            payload = Encoding.UTF8.GetBytes(request.Text);
            text = true;
            return true;
        }

        try
        {
            payload = Convert.FromBase64String(request.Binary!);
            return true;
        }
        catch (FormatException)
        {
            invalid = GatewayCommandAnswer.Invalid(Error("binary", "Not valid base64."));
            return false;
        }
    }

    private static FieldError Error(string field, string message) => new(field, FieldErrorCodes.InvalidFormat, message);

    private static partial class Log
    {
        [LoggerMessage(EventId = 1601, Level = LogLevel.Debug, Message = "A command's send to connection {ConnectionId} did not complete")]
        public static partial void SendFailed(ILogger logger, string connectionId, Exception error);
    }
}
