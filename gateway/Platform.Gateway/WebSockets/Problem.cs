using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.IO.Pipelines;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Platform.Contracts.Problems;
using Platform.Gateway.Admission;

namespace Platform.Gateway.WebSockets;

/// <summary>
/// The HTTP/1.1 answers of the ws and wss ports: the 101 that switches to WebSocket, and RFC 9457 problem
/// documents for refused requests (after which the connection closes).
/// </summary>
internal static class Problem
{
    private const string WebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    public static (int Status, string Code, string Title) For(RefusalReason reason) => reason switch
    {
        RefusalReason.UnknownTenant => (StatusCodes.Status404NotFound, ErrorCodes.NotFound, "No tenant is served at this host name or path."),
        RefusalReason.Suspended => (StatusCodes.Status403Forbidden, ErrorCodes.TenantSuspended, "The tenant is suspended."),
        RefusalReason.Draining => (StatusCodes.Status503ServiceUnavailable, ErrorCodes.GatewayDraining, "This gateway is draining; connect to another one."),
        RefusalReason.Blocked => (StatusCodes.Status403Forbidden, ErrorCodes.ClientBlocked, "The client address is blocked."),
        RefusalReason.NotAllowed => (StatusCodes.Status403Forbidden, ErrorCodes.ClientBlocked, "The client address is not in the allowed list."),
        RefusalReason.ReverseDnsPending => (StatusCodes.Status503ServiceUnavailable, ErrorCodes.ClientBlocked, "The client's host name is not verified yet; retry shortly."),
        RefusalReason.OriginNotAllowed => (StatusCodes.Status403Forbidden, ErrorCodes.OriginNotAllowed, "The Origin is not allowed."),
        RefusalReason.RateLimited => (StatusCodes.Status429TooManyRequests, ErrorCodes.RateLimited, "Too many new connections for this tenant; retry shortly."),
        RefusalReason.PerClientLimit => (StatusCodes.Status429TooManyRequests, ErrorCodes.RateLimited, "Too many connections from this client address."),
        RefusalReason.MaxConnections => (StatusCodes.Status503ServiceUnavailable, ErrorCodes.ConnectionLimit, "The tenant's MaxConnections is reached."),
        RefusalReason.ProtocolNotAllowed => (StatusCodes.Status403Forbidden, ErrorCodes.ProtocolNotAllowed, "The tenant does not accept clients over this protocol."),
        RefusalReason.BackendUnreachable => (StatusCodes.Status502BadGateway, ErrorCodes.BackendUnreachable, "The tenant's backend cannot be reached."),
        _ => (StatusCodes.Status400BadRequest, ErrorCodes.WebSocketRequired, "A WebSocket upgrade request is required."),
    };

    public static ValueTask WriteAsync(PipeWriter output, RefusalReason reason, CancellationToken cancellationToken)
    {
        var (status, code, title) = For(reason);
        return WriteAsync(output, status, code, title, cancellationToken, reason == RefusalReason.ReverseDnsPending ? "Retry-After: 1\r\n" : "");
    }

    /// <summary>A problem document with <c>Connection: close</c>; <paramref name="headers"/> are extra header lines.</summary>
    public static async ValueTask WriteAsync(PipeWriter output, int status, string code, string title, CancellationToken cancellationToken, string headers = "")
    {
        using var body = new MemoryStream();
        await using (var writer = new Utf8JsonWriter(body))
        {
            writer.WriteStartObject();
            writer.WriteString("type", "about:blank");
            writer.WriteString("title", title);
            writer.WriteNumber("status", status);
            writer.WriteString("code", code);
            writer.WriteEndObject();
        }

        var retry = status == StatusCodes.Status429TooManyRequests ? "Retry-After: 1\r\n" : "";
        await WriteClosingAsync(output, status, $"Content-Type: application/problem+json\r\n{retry}{headers}", body.GetBuffer().AsMemory(0, (int)body.Length), cancellationToken);
    }

    /// <summary>An answer without a body, for requests too broken to carry a problem document (408, 431).</summary>
    public static ValueTask WriteStatusAsync(PipeWriter output, int status, CancellationToken cancellationToken) =>
        WriteClosingAsync(output, status, "", ReadOnlyMemory<byte>.Empty, cancellationToken);

    /// <summary>Status line, <paramref name="headers"/>, the body's length and <c>Connection: close</c>, then the body.</summary>
    private static async ValueTask WriteClosingAsync(PipeWriter output, int status, string headers, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        var head = string.Create(CultureInfo.InvariantCulture,
            $"HTTP/1.1 {status} {ReasonPhrases.GetReasonPhrase(status)}\r\n{headers}Content-Length: {body.Length}\r\nConnection: close\r\n\r\n");
        output.Write(Encoding.ASCII.GetBytes(head));
        output.Write(body.Span);
        await output.FlushAsync(cancellationToken);
    }

    /// <summary>The 101 of RFC 6455 section 4.2.2, naming the chosen sub-protocol and extensions when there are any.</summary>
    [SuppressMessage("Security", "CA5350:Do Not Use Weak Cryptographic Algorithms", Justification = "RFC 6455 defines Sec-WebSocket-Accept as a SHA-1 digest; it proves the server read the handshake and protects nothing.")]
    public static async ValueTask WriteSwitchingProtocolsAsync(PipeWriter output, string key, string? subProtocol, string? extensions, CancellationToken cancellationToken)
    {
        var accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + WebSocketGuid)));
        var head = new StringBuilder("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n")
            .Append("Sec-WebSocket-Accept: ").Append(accept).Append("\r\n");
        if (subProtocol is not null)
        {
            head.Append("Sec-WebSocket-Protocol: ").Append(subProtocol).Append("\r\n");
        }

        if (extensions is not null)
        {
            head.Append("Sec-WebSocket-Extensions: ").Append(extensions).Append("\r\n");
        }

        output.Write(Encoding.ASCII.GetBytes(head.Append("\r\n").ToString()));
        await output.FlushAsync(cancellationToken);
    }
}
