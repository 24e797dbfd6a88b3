using System.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Platform.Contracts;
using Platform.Contracts.Problems;

namespace Platform.Silo.Problems;

/// <summary>RFC 9457 problem responses, each with a stable <c>code</c> and the trace id.</summary>
internal static class ProblemResults
{
    public static ProblemHttpResult Problem(int status, string code, string title, string? detail = null, IReadOnlyList<FieldError>? errors = null)
    {
        var problem = new ProblemDetails
        {
            Status = status,
            Title = title,
            Detail = detail,
            Type = ProblemTypes.For(code),
        };
        problem.Extensions["code"] = code;
        if (errors is { Count: > 0 })
        {
            problem.Extensions["errors"] = errors;
        }

        problem.Extensions["traceId"] = Activity.Current?.Id;
        return TypedResults.Problem(problem);
    }

    public static ProblemHttpResult Validation(IReadOnlyList<FieldError> errors) =>
        Problem(StatusCodes.Status400BadRequest, ErrorCodes.ValidationFailed, "Validation failed",
            "One or more fields are invalid; see errors.", errors);

    public static ProblemHttpResult Validation(string field, string fieldCode, string message) =>
        Validation([new FieldError(field, fieldCode, message)]);

    public static ProblemHttpResult NotFound(string what) =>
        Problem(StatusCodes.Status404NotFound, ErrorCodes.NotFound, "Not found", $"{what} does not exist.");

    public static ProblemHttpResult Conflict(string code, string detail, string? field = null) =>
        Problem(StatusCodes.Status409Conflict, code, "Conflict", detail,
            field is null ? null : [new FieldError(field, code, detail)]);

    /// <summary>Writes a problem outside the endpoint pipeline (authentication, exception handler).</summary>
    public static async Task Write(HttpContext context, int status, string code, string title, string? detail, IReadOnlyList<FieldError>? errors = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        var problem = Problem(status, code, title, detail, errors);
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/problem+json";
        await context.Response.WriteAsJsonAsync(problem.ProblemDetails, PlatformJson.Options, "application/problem+json", context.RequestAborted);
    }
}
