using System.Globalization;
using Platform.Contracts.Problems;

namespace Platform.Silo.Api;

/// <summary>
/// The <c>offset</c> and <c>limit</c> query parameters of every list endpoint, with one default and one
/// maximum across the API. They are bound as text so a bad value is reported as a validation failure
/// naming the parameter rather than a generic binding error.
/// </summary>
internal static class Paging
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;
    public const int MaxFilterLength = 200;

    public static (int Offset, int Limit) Parse(string? offset, string? limit, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var o = 0;
        if (offset is not null && (!int.TryParse(offset, NumberStyles.None, CultureInfo.InvariantCulture, out o) || o < 0))
        {
            errors.Add(new FieldError("offset", FieldErrorCodes.OutOfRange, $"An integer from 0 to {int.MaxValue}."));
        }

        var l = DefaultLimit;
        if (limit is not null && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out l) || l < 1 || l > MaxLimit))
        {
            errors.Add(new FieldError("limit", FieldErrorCodes.OutOfRange, $"An integer from 1 to {MaxLimit}."));
        }

        return (o, l);
    }

    /// <summary>A free-text filter: empty means none; control characters and over-long values are refused.</summary>
    public static string? Filter(string name, string? value, List<FieldError> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        if (value.Length > MaxFilterLength)
        {
            errors.Add(new FieldError(name, FieldErrorCodes.TooLong, $"At most {MaxFilterLength} characters."));
            return null;
        }

        if (value.Any(char.IsControl))
        {
            errors.Add(new FieldError(name, FieldErrorCodes.InvalidFormat, "Control characters are not allowed."));
            return null;
        }

        return value;
    }
}
