using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using Platform.Contracts.Connections;
using Platform.Contracts.Gateways;
using Platform.Contracts.Internal;
using Platform.Contracts.Problems;
using Platform.Gateway.Admission;
using Platform.Gateway.Connections;
using Platform.Gateway.Hosting;

namespace Platform.Gateway.Internal;

/// <summary>The gateway's internal API: commands from silos for the connections this node holds.</summary>
internal static class GatewayInternalApi
{
    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Only the internal listener serves these routes, and only to callers presenting the cluster secret.</summary>
    public static IApplicationBuilder UseInternalApiGuard(this IApplicationBuilder app)
    {
        return app.Use(static async (context, next) =>
        {
            var listeners = context.RequestServices.GetRequiredService<GatewayListeners>();
            if (!listeners.IsInternal(context.Connection.LocalPort))
            {
                await next(context);
                return;
            }

            var secret = context.RequestServices.GetRequiredService<IOptions<GatewayOptions>>().Value.ClusterSecret;
            var header = context.Request.Headers.Authorization.ToString();
            const string Prefix = "Bearer ";
            if (!header.StartsWith(Prefix, StringComparison.Ordinal) || !SecretMatches(header[Prefix.Length..], secret))
            {
                await Results.Problem(statusCode: 401, title: "The cluster secret is required.", type: ProblemTypes.For(ErrorCodes.Unauthenticated), extensions: new Dictionary<string, object?> { ["code"] = ErrorCodes.Unauthenticated })
                    .ExecuteAsync(context);
                return;
            }

            await next(context);
        });
    }

    /// <summary>
    /// Compares SHA-256 digests, not the strings: both are 32 bytes whatever was presented, so neither the time taken
    /// nor an early exit on a length mismatch tells a caller how long the secret is (as the silo compares it).
    /// </summary>
    internal static bool SecretMatches(string presented, string secret)
    {
        Span<byte> presentedHash = stackalloc byte[SHA256.HashSizeInBytes];
        Span<byte> secretHash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), presentedHash);
        SHA256.HashData(Encoding.UTF8.GetBytes(secret), secretHash);
        return CryptographicOperations.FixedTimeEquals(presentedHash, secretHash);
    }

    public static IEndpointRouteBuilder MapGatewayInternalApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("").AddEndpointFilter(static async (context, next) =>
        {
            var listeners = context.HttpContext.RequestServices.GetRequiredService<GatewayListeners>();
            return listeners.IsInternal(context.HttpContext.Connection.LocalPort) ? await next(context) : Results.NotFound();
        });

        group.MapPost(InternalRoutes.GatewaySend, SendAsync);
        group.MapPost(InternalRoutes.GatewayDisconnect, Disconnect);
        group.MapPost(InternalRoutes.GatewayBroadcast, Broadcast);
        group.MapPost(InternalRoutes.GatewayDrain, Drain);
        group.MapPost(InternalRoutes.GatewayLeaseSync, LeaseSync);
        return app;
    }

    private static async Task<IResult> SendAsync(string connectionId, SendMessageRequest request, ConnectionRegistry registry, CancellationToken cancellationToken)
    {
        if (!TryPayload(request, out var payload, out var text, out var problem))
        {
            return problem!;
        }

        if (registry.Find(connectionId) is not { } connection)
        {
            return NotFound();
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(SendTimeout);
        try
        {
            await connection.SendAsync(payload, text, timeout.Token);
        }
        catch (Dtls.DatagramTooLargeException ex)
        {
            return Invalid(text ? "text" : "binary", $"A DTLS datagram carries at most {ex.Limit} bytes.");
        }
        catch (Exception ex) when (ex is OperationCanceledException or System.Net.WebSockets.WebSocketException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            return NotFound();
        }

        return Results.Accepted();
    }

    private static IResult Disconnect(string connectionId, DisconnectRequest request, ConnectionRegistry registry)
    {
        if (request.Code != CloseCodes.Normal && request.Code is < 3000 or > 4999)
        {
            return Invalid("code", "The close code is 1000 or 3000..4999.");
        }

        if (request.Reason is not null && Encoding.UTF8.GetByteCount(request.Reason) > 123)
        {
            return Invalid("reason", "The reason is at most 123 bytes of UTF-8.");
        }

        if (registry.Find(connectionId) is not { } connection)
        {
            return NotFound();
        }

        connection.Close(request.Code, request.Reason);
        return Results.Accepted();
    }

    private static IResult Broadcast(Guid tenantId, SendMessageRequest request, ConnectionRegistry registry)
    {
        if (!TryPayload(request, out var payload, out var text, out var problem))
        {
            return problem!;
        }

        long delivered = 0;
        foreach (var connection in registry.All)
        {
            if (connection.Tenant.Id == tenantId)
            {
                delivered++;
                _ = SendQuietlyAsync(connection, payload, text);
            }
        }

        return Results.Ok(new GatewayBroadcastResponse(delivered));
    }

    private static IResult Drain(DrainGatewayRequest request, DrainState drain, TimeProvider time)
    {
        if (request.DeadlineSeconds < 0)
        {
            return Invalid("deadlineSeconds", "Must be 0 or more.");
        }

        drain.Begin(request.DeadlineSeconds == 0 ? null : time.GetUtcNow().AddSeconds(request.DeadlineSeconds));
        return Results.Accepted();
    }

    private static IResult LeaseSync(LeaseSyncCommand command, LeaseManager leases)
    {
        if (command.TenantIds.Count > 10_000)
        {
            return Invalid("tenantIds", "At most 10000 tenants.");
        }

        leases.ReportNow(command.TenantIds);
        return Results.Accepted();
    }

    private static async Task SendQuietlyAsync(GatewayConnection connection, ReadOnlyMemory<byte> payload, bool text)
    {
        using var timeout = new CancellationTokenSource(SendTimeout);
        try
        {
            await connection.SendAsync(payload, text, timeout.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or System.Net.WebSockets.WebSocketException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            // A connection closing while a broadcast reaches it simply misses the message.
        }
    }

    private static bool TryPayload(SendMessageRequest request, out ReadOnlyMemory<byte> payload, out bool text, out IResult? problem)
    {
        payload = default;
        text = false;
        problem = null;
        if ((request.Text is null) == (request.Binary is null))
        {
            problem = Invalid("text", "Exactly one of text or binary is required.");
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
            problem = Invalid("binary", "Not valid base64.");
            return false;
        }
    }

    private static IResult NotFound() =>
        Results.Problem(statusCode: 404, title: "The connection is not open on this gateway.", type: ProblemTypes.For(ErrorCodes.ConnectionNotFound), extensions: new Dictionary<string, object?> { ["code"] = ErrorCodes.ConnectionNotFound });

    private static IResult Invalid(string field, string message) =>
        Results.Problem(
            statusCode: 400,
            title: "Validation failed.",
            type: ProblemTypes.For(ErrorCodes.ValidationFailed),
            extensions: new Dictionary<string, object?>
            {
                ["code"] = ErrorCodes.ValidationFailed,
                ["errors"] = new[] { new FieldError(field, FieldErrorCodes.InvalidFormat, message) },
            });
}
