using Platform.Contracts.Problems;

namespace Platform.Silo.HostNames;

/// <summary>Checks on the names a tenant asks for that need the public suffix list (the rest is the config validator's).</summary>
internal static class HostNamePolicy
{
    /// <summary>A field error for each configured wildcard directly under a public suffix (<c>*.com</c>, <c>*.co.uk</c>).</summary>
    public static IEnumerable<FieldError> ConfigErrors(IReadOnlyList<string>? hostNames, string prefix, PublicSuffixList suffixes)
    {
        ArgumentNullException.ThrowIfNull(suffixes);
        for (var i = 0; i < (hostNames?.Count ?? 0); i++)
        {
            if (hostNames![i] is { } name && suffixes.IsWildcardOverPublicSuffix(name))
            {
                yield return new FieldError($"{prefix}hostNames[{i}]", FieldErrorCodes.PublicSuffix, Explain(name));
            }
        }
    }

    /// <summary>The first wildcard directly under a public suffix among a certificate's names, or null.</summary>
    public static string? PublicSuffixWildcard(IEnumerable<string> hostNames, PublicSuffixList suffixes) =>
        hostNames.FirstOrDefault(suffixes.IsWildcardOverPublicSuffix);

    public static string Explain(string name) =>
        $"'{name}' is a wildcard directly under a public suffix: it would cover names anyone can register.";
}
