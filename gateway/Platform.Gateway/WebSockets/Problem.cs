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

namespace Platform.Gateway.WebSockets;

/// <summary>
/// The HTTP/1.1 answers of the ws and wss ports: the 101 that switches to WebSocket, and RFC 9457 problem
/// documents for refused requests (after which the connection closes).
/// </summary>
internal static class Problem
{
    private const string WebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    /// <summary>
    /// The answer to a refused upgrade: its status, its code (the name of the reason the refusal is counted under, so the
    /// client reads the word the tenant's refusal counts show) and title. A forbidden backend is answered as an unreachable
    /// one, so a tenant cannot tell a refused address from a closed port. Handshake refusals (<c>tls_failed</c>,
    /// <c>half_open_limit</c>) are TLS alerts and never reach here.
    /// </summary>
    public static (int Status, string Code, string Title) For(RefusalReason reason) => reason switch
    {
        RefusalReason.UnknownTenant => Answer(StatusCodes.Status404NotFound, reason, "No tenant is served at this host name or path."),
        RefusalReason.Suspended => Answer(StatusCodes.Status403Forbidden, reason, "The tenant is suspended."),
        RefusalReason.Draining => Answer(StatusCodes.Status503ServiceUnavailable, reason, "This gateway is draining; connect to another one."),
        RefusalReason.Blocked => Answer(StatusCodes.Status403Forbidden, reason, "The client address is blocked."),
        RefusalReason.NotAllowed => Answer(StatusCodes.Status403Forbidden, reason, "The client address is not in the allowed list."),
        RefusalReason.ReverseDnsPending => Answer(StatusCodes.Status503ServiceUnavailable, reason, "The client's host name is not verified yet; retry shortly."),
        RefusalReason.OriginNotAllowed => Answer(StatusCodes.Status403Forbidden, reason, "The Origin is not allowed."),
        RefusalReason.RateLimited => Answer(StatusCodes.Status429TooManyRequests, reason, "Too many new connections for this tenant; retry shortly."),
        RefusalReason.PerClientLimit => Answer(StatusCodes.Status429TooManyRequests, reason, "Too many connections from this client address."),
        RefusalReason.MaxConnections => Answer(StatusCodes.Status503ServiceUnavailable, reason, "The tenant's MaxConnections is reached."),
        RefusalReason.ProtocolNotAllowed => Answer(StatusCodes.Status403Forbidden, reason, "The tenant does not accept clients over this protocol."),
        RefusalReason.BackendUnreachable or RefusalReason.BackendForbidden =>
            Answer(StatusCodes.Status502BadGateway, RefusalReason.BackendUnreachable, "The tenant's backend cannot be reached."),
        RefusalReason.DeliveryUnavailable => Answer(StatusCodes.Status503ServiceUnavailable, reason, "The tenant's delivery mode is not available on this gateway."),
        RefusalReason.WebhookRejected => Answer(StatusCodes.Status403Forbidden, reason, "The tenant's webhook refused the connection."),
        RefusalReason.WebhookUnavailable => Answer(StatusCodes.Status503ServiceUnavailable, reason, "The tenant's webhook did not answer the connect event."),
        RefusalReason.BadRequest => Answer(StatusCodes.Status400BadRequest, reason, "Not a valid WebSocket (version 13) upgrade request."),
        _ => throw new ArgumentOutOfRangeException(nameof(reason), reason, "Not answered with an HTTP status."),
    };

    /// <summary>
    /// Writes the problem document of a refusal and closes; <paramref name="status"/> replaces the reason's own (426 for a
    /// WebSocket version other than 13) and <paramref name="headers"/> are extra header lines.
    /// </summary>
    public static ValueTask WriteAsync(PipeWriter output, RefusalReason reason, CancellationToken cancellationToken, int? status = null, string headers = "")
    {
        var (own, code, title) = For(reason);
        var retry = reason == RefusalReason.ReverseDnsPending || (status ?? own) == StatusCodes.Status429TooManyRequests ? "Retry-After: 1\r\n" : "";
        return WriteAsync(output, status ?? own, code, title, retry + headers, cancellationToken);
    }

    /// <summary>
    /// The answer to an upgrade the tenant's webhook refused: the status it chose (or 503 when it gave no usable answer), the
    /// refusal's code, and its reason as the problem's <c>detail</c>.
    /// </summary>
    public static ValueTask WriteRejectedAsync(PipeWriter output, RefusalReason reason, int status, string? detail, CancellationToken cancellationToken)
    {
        var (_, code, title) = For(reason);
        return WriteAsync(output, status, code, title, "", cancellationToken, detail);
    }

    /// <summary>A problem document with <c>Connection: close</c>.</summary>
    private static async ValueTask WriteAsync(PipeWriter output, int status, string code, string title, string headers, CancellationToken cancellationToken, string? detail = null)
    {
        using var body = new MemoryStream();
        await using (var writer = new Utf8JsonWriter(body))
        {
            writer.WriteStartObject();
            writer.WriteString("type", ProblemTypes.For(code));
            writer.WriteString("title", title);
            writer.WriteNumber("status", status);
            writer.WriteString("code", code);
            if (detail is not null)
            {
                writer.WriteString("detail", detail);
            }

            writer.WriteEndObject();
        }

        await WriteClosingAsync(output, status, $"Content-Type: application/problem+json\r\n{headers}", body.GetBuffer().AsMemory(0, (int)body.Length), cancellationToken);
    }

    private static (int Status, string Code, string Title) Answer(int status, RefusalReason reason, string title) => (status, RefusalReasons.Name(reason), title);

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
