using Microsoft.AspNetCore.Http.HttpResults;
using Platform.Contracts.Problems;
using Platform.Silo.Problems;

namespace Platform.Silo.Certificates;

/// <summary>The <c>offset</c> and <c>limit</c> query parameters of the tenant secret lists.</summary>
internal static class ListPaging
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    /// <summary>Returns a validation problem, or null with the effective offset and limit.</summary>
    public static ProblemHttpResult? Validate(int? offset, int? limit, out int effectiveOffset, out int effectiveLimit)
    {
        effectiveOffset = offset ?? 0;
        effectiveLimit = limit ?? DefaultLimit;
        var errors = new List<FieldError>();
        if (effectiveOffset < 0)
        {
            errors.Add(new FieldError("offset", FieldErrorCodes.OutOfRange, "offset must be 0 or more."));
        }

        if (effectiveLimit is < 1 or > MaxLimit)
        {
            errors.Add(new FieldError("limit", FieldErrorCodes.OutOfRange, $"limit must be between 1 and {MaxLimit}."));
        }

        return errors.Count == 0 ? null : ProblemResults.Validation(errors);
    }
}
