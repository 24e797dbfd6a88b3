using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Platform.Contracts.Problems;
using Platform.Gateway.Admission;

namespace Platform.Gateway.WebSockets;

/// <summary>RFC 9457 answers to refused upgrade requests.</summary>
internal static class Problem
{
    public static (int Status, string Code, string Title) For(RefusalReason reason) => reason switch
    {
        RefusalReason.UnknownTenant => (StatusCodes.Status404NotFound, ErrorCodes.NotFound, "No tenant is served at this host name or path."),
        RefusalReason.Suspended => (StatusCodes.Status403Forbidden, ErrorCodes.TenantSuspended, "The tenant is suspended."),
        RefusalReason.Draining => (StatusCodes.Status503ServiceUnavailable, ErrorCodes.GatewayDraining, "This gateway is draining; connect to another one."),
        RefusalReason.Blocked => (StatusCodes.Status403Forbidden, ErrorCodes.ClientBlocked, "The client address is blocked."),
        RefusalReason.NotAllowed => (StatusCodes.Status403Forbidden, ErrorCodes.ClientBlocked, "The client address is not in the allowed list."),
        RefusalReason.OriginNotAllowed => (StatusCodes.Status403Forbidden, ErrorCodes.OriginNotAllowed, "The Origin is not allowed."),
        RefusalReason.RateLimited => (StatusCodes.Status429TooManyRequests, ErrorCodes.RateLimited, "Too many new connections for this tenant; retry shortly."),
        RefusalReason.PerClientLimit => (StatusCodes.Status429TooManyRequests, ErrorCodes.RateLimited, "Too many connections from this client address."),
        RefusalReason.MaxConnections => (StatusCodes.Status503ServiceUnavailable, ErrorCodes.ConnectionLimit, "The tenant's MaxConnections is reached."),
        RefusalReason.BackendUnreachable => (StatusCodes.Status502BadGateway, ErrorCodes.BackendUnreachable, "The tenant's backend cannot be reached."),
        _ => (StatusCodes.Status400BadRequest, ErrorCodes.WebSocketRequired, "A WebSocket upgrade request is required."),
    };

    public static Task WriteAsync(HttpContext context, RefusalReason reason)
    {
        var (status, code, title) = For(reason);
        return WriteAsync(context, status, code, title);
    }

    public static async Task WriteAsync(HttpContext context, int status, string code, string title)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/problem+json";
        if (status == StatusCodes.Status429TooManyRequests)
        {
            context.Response.Headers.RetryAfter = "1";
        }

        await using var writer = new Utf8JsonWriter(context.Response.Body);
        writer.WriteStartObject();
        writer.WriteString("type", "about:blank");
        writer.WriteString("title", title);
        writer.WriteNumber("status", status);
        writer.WriteString("code", code);
        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted);
    }
}
