using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Metadata;
using Platform.Contracts.Problems;

namespace Platform.Silo.Problems;

/// <summary>
/// Turns request-binding failures into problem responses naming the offending field in the API's own words (never a
/// .NET type, member or exception message), a grain call that found its silo lost into a 503 to retry, and every other
/// exception into a 500 that reveals nothing but a trace id.
/// </summary>
internal sealed partial class ProblemExceptionHandler(ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is BadHttpRequestException bad)
        {
            await WriteBadRequestAsync(httpContext, bad);
            return true;
        }

        if (exception is OperationCanceledException && httpContext.RequestAborted.IsCancellationRequested)
        {
            return true;
        }

        if (IsClusterRecovering(exception))
        {
            // Until failure detection declares the silo dead, calls to its grains fail or time out; nothing was written.
            LogClusterUnavailable(logger, httpContext.Request.Method, httpContext.Request.Path, exception.GetType().Name);
            httpContext.Response.Headers.RetryAfter = RetryAfterSeconds;
            await ProblemResults.Write(httpContext, StatusCodes.Status503ServiceUnavailable, ErrorCodes.ClusterUnavailable, "Cluster unavailable",
                "The part of the cluster holding this state is being recovered after a silo was lost; nothing was changed. Retry shortly.");
            return true;
        }

        LogUnhandled(logger, exception, httpContext.Request.Method, httpContext.Request.Path);
        await ProblemResults.Write(httpContext, StatusCodes.Status500InternalServerError, ErrorCodes.Internal, "Internal error",
            "The request failed; quote the trace id when reporting it.");
        return true;
    }

    private const string RetryAfterSeconds = "2";

    /// <summary>Orleans' answers while a silo is lost: the silo is unreachable, the message was rejected, or the call timed out.</summary>
    private static bool IsClusterRecovering(Exception exception) =>
        exception is Orleans.Runtime.SiloUnavailableException or Orleans.Runtime.OrleansMessageRejectionException or TimeoutException;

    // Kestrel's own limits (body too large, body too slow) arrive here with their status; a body the endpoint could not
    // read as JSON is malformed_body in the API's words; anything else (a route or query value of the wrong form) is bad_request.
    private static Task WriteBadRequestAsync(HttpContext context, BadHttpRequestException bad)
    {
        if (bad.StatusCode != StatusCodes.Status400BadRequest)
        {
            return StatusProblems.WriteAsync(context, bad.StatusCode);
        }

        if (FindJsonException(bad) is { } json)
        {
            var bodyType = Accepts(context)?.RequestType;
            var described = JsonBodyErrors.Describe(json, bodyType);
            return ProblemResults.Write(context, StatusCodes.Status400BadRequest, ErrorCodes.MalformedBody, "Malformed body", described.Message,
                described.Field is null ? null : [new FieldError(described.Field, described.FieldCode, described.Message)]);
        }

        if (Accepts(context) is not null && !HasBody(context.Request))
        {
            return ProblemResults.Write(context, StatusCodes.Status400BadRequest, ErrorCodes.MalformedBody, "Malformed body",
                "The request body is missing: this endpoint reads a JSON document sent with 'Content-Type: application/json'.");
        }

        return StatusProblems.WriteAsync(context, StatusCodes.Status400BadRequest);
    }

    // The exception handler middleware clears the endpoint before handlers run; its feature keeps the one that failed.
    private static IAcceptsMetadata? Accepts(HttpContext context) =>
        (context.Features.Get<IExceptionHandlerFeature>()?.Endpoint ?? context.GetEndpoint())?.Metadata.GetMetadata<IAcceptsMetadata>();

    private static bool HasBody(HttpRequest request) =>
        request.ContentLength is > 0 || (request.ContentLength is null && request.Headers.TransferEncoding.Count > 0);

    private static JsonException? FindJsonException(Exception exception)
    {
        for (var e = exception.InnerException; e is not null; e = e.InnerException)
        {
            if (e is JsonException json)
            {
                return json;
            }
        }

        return null;
    }

    [LoggerMessage(EventId = 503, Level = LogLevel.Warning, Message = "{Method} {Path} answered 503: the cluster is recovering a lost silo ({Exception})")]
    private static partial void LogClusterUnavailable(ILogger logger, string method, string path, string exception);

    [LoggerMessage(EventId = 500, Level = LogLevel.Error, Message = "Unhandled exception for {Method} {Path}")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, string path);
}
