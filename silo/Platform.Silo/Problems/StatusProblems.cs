using Microsoft.AspNetCore.Diagnostics;
using Platform.Contracts.Problems;

namespace Platform.Silo.Problems;

/// <summary>
/// The problem for an error status that no endpoint described: one the framework chose (no route, wrong method,
/// wrong content type, body over the limit) or Kestrel itself (a request it could not read). Every status maps to a
/// stable code, so a client never meets a problem document without one.
/// </summary>
internal static class StatusProblems
{
    public static (string Code, string Title, string Detail) Describe(int status) => status switch
    {
        StatusCodes.Status400BadRequest => (ErrorCodes.BadRequest, "Bad request",
            "The request could not be read: its request line, a header or the path is malformed."),
        StatusCodes.Status401Unauthorized => (ErrorCodes.Unauthenticated, "Authentication required",
            "Send an API key as 'Authorization: Bearer <key>'."),
        StatusCodes.Status403Forbidden => (ErrorCodes.Forbidden, "Forbidden", "The credentials do not allow this request."),
        StatusCodes.Status404NotFound => (ErrorCodes.NotFound, "Not found", "No resource has this path."),
        StatusCodes.Status405MethodNotAllowed => (ErrorCodes.MethodNotAllowed, "Method not allowed",
            "The resource does not support this method; the Allow header lists those it does."),
        StatusCodes.Status408RequestTimeout => (ErrorCodes.RequestTimeout, "Request timeout",
            "The request's headers or body did not arrive in time."),
        StatusCodes.Status411LengthRequired => (ErrorCodes.LengthRequired, "Length required",
            "A request with a body needs Content-Length or chunked transfer encoding."),
        StatusCodes.Status413PayloadTooLarge => (ErrorCodes.BodyTooLarge, "Body too large", "The request body exceeds the size limit."),
        StatusCodes.Status414UriTooLong => (ErrorCodes.UriTooLong, "Request line too long",
            "The request line (method, path and query) is longer than the server reads."),
        StatusCodes.Status415UnsupportedMediaType => (ErrorCodes.UnsupportedMediaType, "Unsupported media type",
            "This endpoint reads a JSON body: send it with 'Content-Type: application/json'."),
        StatusCodes.Status431RequestHeaderFieldsTooLarge => (ErrorCodes.HeadersTooLarge, "Headers too large",
            "The request headers are larger, or more numerous, than the server reads."),
        StatusCodes.Status505HttpVersionNotsupported => (ErrorCodes.HttpVersionNotSupported, "HTTP version not supported",
            "The server speaks HTTP/1.1."),
        < 500 => (ErrorCodes.BadRequest, "Bad request", "The request cannot be served as sent."),
        _ => (ErrorCodes.Internal, "Internal error", "The request failed; quote the trace id when reporting it."),
    };

    /// <summary>Writes the problem for a status no endpoint described.</summary>
    public static Task WriteAsync(HttpContext context, int status)
    {
        ArgumentNullException.ThrowIfNull(context);
        var (code, title, detail) = Describe(status);
        return ProblemResults.Write(context, status, code, title, detail);
    }

    /// <summary>Status code pages: an error status the pipeline set without writing a body (no route, wrong method, ...).</summary>
    public static Task WriteAsync(StatusCodeContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return WriteAsync(context.HttpContext, context.HttpContext.Response.StatusCode);
    }

    /// <summary>
    /// A problem the framework writes itself through <see cref="IProblemDetailsService"/> (a path this pipeline does not
    /// route to <see cref="WriteAsync(HttpContext, int)"/>) gets the same code, type and trace id as every other one.
    /// </summary>
    public static void Customize(ProblemDetailsContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var problem = context.ProblemDetails;
        if (problem.Extensions.ContainsKey("code"))
        {
            return;
        }

        var status = problem.Status ?? context.HttpContext.Response.StatusCode;
        var (code, title, detail) = Describe(status);
        problem.Status = status;
        problem.Title = title;
        problem.Detail = detail;
        problem.Type = ProblemTypes.For(code);
        problem.Extensions["code"] = code;
        problem.Extensions["traceId"] = System.Diagnostics.Activity.Current?.Id ?? context.HttpContext.TraceIdentifier;
    }
}
