using Platform.Contracts.Problems;
using Platform.Contracts.Psk;

namespace Platform.Silo.Psk;

/// <summary>
/// Checks a new PSK identity: the device part of <c>{slug}/{identity}</c> and a hex key of 16 to 64
/// bytes. Messages describe the key's shape only, never its value.
/// </summary>
internal static class PskRequestValidator
{
    public const int MaxIdentityLength = 64;
    public const int MinKeyBytes = 16;
    public const int MaxKeyBytes = 64;

    /// <summary>Returns the field errors; when there are none, <paramref name="key"/> holds the decoded key.</summary>
    public static List<FieldError> Validate(CreatePskIdentityRequest request, out byte[]? key)
    {
        ArgumentNullException.ThrowIfNull(request);
        key = null;
        var errors = new List<FieldError>();
        if (ValidateIdentity(request.Identity) is { } identityError)
        {
            errors.Add(identityError);
        }

        if (ParseKey(request.Key, out var parsed) is { } keyError)
        {
            errors.Add(keyError);
        }
        else if (errors.Count == 0)
        {
            key = parsed;
        }

        return errors;
    }

    public static FieldError? ValidateIdentity(string? identity)
    {
        if (string.IsNullOrEmpty(identity))
        {
            return new FieldError("identity", FieldErrorCodes.Required, "identity is required.");
        }

        if (identity.Length > MaxIdentityLength)
        {
            return new FieldError("identity", FieldErrorCodes.TooLong, $"identity is at most {MaxIdentityLength} characters.");
        }

        return identity.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')
            ? null
            : new FieldError("identity", FieldErrorCodes.InvalidFormat, "identity may hold only letters, digits, '.', '_' and '-'.");
    }

    public static FieldError? ParseKey(string? hex, out byte[]? key)
    {
        key = null;
        if (string.IsNullOrEmpty(hex))
        {
            return new FieldError("key", FieldErrorCodes.Required, "key is required.");
        }

        if (!hex.All(char.IsAsciiHexDigit))
        {
            return new FieldError("key", FieldErrorCodes.InvalidFormat, "key must be hexadecimal (0-9, a-f).");
        }

        if (hex.Length % 2 != 0)
        {
            return new FieldError("key", FieldErrorCodes.InvalidFormat, "key must have an even number of hex digits.");
        }

        if (hex.Length / 2 is < MinKeyBytes or > MaxKeyBytes)
        {
            return new FieldError("key", FieldErrorCodes.OutOfRange, $"key must be {MinKeyBytes} to {MaxKeyBytes} bytes ({MinKeyBytes * 2} to {MaxKeyBytes * 2} hex digits).");
        }

        key = Convert.FromHexString(hex);
        return null;
    }
}
