using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Contracts.Problems;
using Platform.Silo.Problems;

namespace Platform.Silo.Tenants.Grains;

/// <summary>A refusal a tenant grain answers with, carried back to the REST handler and written as a problem there.</summary>
[GenerateSerializer, Immutable, Alias("platform.tenants.problem")]
internal sealed record TenantProblem(
    [property: Id(0)] int Status,
    [property: Id(1)] string Code,
    [property: Id(2)] string Title,
    [property: Id(3)] string? Detail,
    [property: Id(4)] IReadOnlyList<TenantFieldError>? Errors)
{
    public static TenantProblem From(ProblemHttpResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var details = result.ProblemDetails;
        var errors = details.Extensions.TryGetValue("errors", out var value) && value is IReadOnlyList<FieldError> list
            ? list.Select(e => new TenantFieldError(e.Field, e.Code, e.Message)).ToList()
            : null;
        return new TenantProblem(
            details.Status ?? StatusCodes.Status500InternalServerError,
            details.Extensions.TryGetValue("code", out var code) ? code as string ?? "" : "",
            details.Title ?? "",
            details.Detail,
            errors);
    }

    public ProblemHttpResult ToResult() =>
        ProblemResults.Problem(Status, Code, Title, Detail, Errors?.Select(e => new FieldError(e.Field, e.Code, e.Message)).ToList());
}
