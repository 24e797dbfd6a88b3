namespace Platform.Contracts.Problems;

/// <summary>Stable per-field validation codes used in <see cref="FieldError.Code"/>.</summary>
public static class FieldErrorCodes
{
    /// <summary>A required value is missing or empty.</summary>
    public const string Required = "required";
    /// <summary>A number is outside its allowed range.</summary>
    public const string OutOfRange = "out_of_range";
    /// <summary>A string is longer than allowed, or a list has too many entries.</summary>
    public const string TooLong = "too_long";
    /// <summary>A value does not have the required format.</summary>
    public const string InvalidFormat = "invalid_format";
    /// <summary>A value is not one of the allowed choices.</summary>
    public const string InvalidChoice = "invalid_choice";
    /// <summary>A value conflicts with another field of the same request.</summary>
    public const string Inconsistent = "inconsistent";
    /// <summary>A list contains the same value twice.</summary>
    public const string Duplicate = "duplicate";
    /// <summary>The field is not part of the schema.</summary>
    public const string Unknown = "unknown_field";
    /// <summary>An address the platform's egress policy does not let tenants reach (loopback, private, link-local, metadata, ...).</summary>
    public const string TargetForbidden = "target_forbidden";
    /// <summary>A value is above the ceiling of the tenant's plan; the message names the ceiling.</summary>
    public const string AbovePlan = "above_plan";
    /// <summary>A wildcard directly under a public suffix (for example <c>*.co.uk</c>).</summary>
    public const string PublicSuffix = "public_suffix";
    /// <summary>A host name that another tenant's verified names cover, or a wildcard that covers another tenant's names.</summary>
    public const string HostNameTaken = "host_name_taken";
}
