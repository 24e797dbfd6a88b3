using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Platform.Contracts.Problems;

namespace Platform.Silo.Problems;

/// <summary>
/// Turns request-binding failures into problem responses naming the offending field, and every
/// other exception into a 500 that reveals nothing but a trace id.
/// </summary>
internal sealed partial class ProblemExceptionHandler(ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is BadHttpRequestException bad)
        {
            if (bad.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                await ProblemResults.Write(httpContext, 413, ErrorCodes.BodyTooLarge, "Body too large", "The request body exceeds the size limit.");
                return true;
            }

            var json = FindJsonException(bad);
            var field = json?.Path is { Length: > 2 } path ? path.TrimStart('$', '.') : null;
            var detail = json is null
                ? "The request body is missing or is not valid JSON of the expected shape."
                : $"The request body is not valid: {Describe(json)}";
            await ProblemResults.Write(httpContext, StatusCodes.Status400BadRequest, ErrorCodes.MalformedBody, "Malformed body", detail,
                field is null ? null : [new FieldError(field, FieldErrorCodes.InvalidFormat, Describe(json!))]);
            return true;
        }

        if (exception is OperationCanceledException && httpContext.RequestAborted.IsCancellationRequested)
        {
            return true;
        }

        LogUnhandled(logger, exception, httpContext.Request.Method, httpContext.Request.Path);
        await ProblemResults.Write(httpContext, StatusCodes.Status500InternalServerError, ErrorCodes.Internal, "Internal error",
            "The request failed; quote the trace id when reporting it.");
        return true;
    }

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

    // JsonException messages can echo a fragment of the input; keep only the structural part.
    private static string Describe(JsonException json)
    {
        var message = json.Message;
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }

    [LoggerMessage(EventId = 500, Level = LogLevel.Error, Message = "Unhandled exception for {Method} {Path}")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, string path);
}
