using Platform.Contracts.Problems;

namespace Platform.Silo.HostNames;

/// <summary>Checks on the names a tenant asks for that need the public suffix list (the rest is the config validator's).</summary>
internal static class HostNamePolicy
{
    /// <summary>
    /// Adds a <c>public_suffix</c> error for each configured wildcard directly under a public suffix (<c>*.com</c>,
    /// <c>*.co.uk</c>), in place of the format error a single-label parent such as <c>*.com</c> already got.
    /// </summary>
    public static void AddConfigErrors(List<FieldError> errors, IReadOnlyList<string>? hostNames, string prefix, PublicSuffixList suffixes)
    {
        ArgumentNullException.ThrowIfNull(errors);
        ArgumentNullException.ThrowIfNull(suffixes);
        for (var i = 0; i < (hostNames?.Count ?? 0); i++)
        {
            if (hostNames![i] is { } name && suffixes.IsWildcardOverPublicSuffix(name))
            {
                var field = $"{prefix}hostNames[{i}]";
                errors.RemoveAll(e => e.Field == field && e.Code == FieldErrorCodes.InvalidFormat);
                errors.Add(new FieldError(field, FieldErrorCodes.PublicSuffix, Explain(name)));
            }
        }
    }

    public static string Explain(string name) =>
        $"'{name}' is a wildcard directly under a public suffix: it would cover names anyone can register.";
}
