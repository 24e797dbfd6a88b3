using System.Text.RegularExpressions;

namespace Platform.Contracts.Config;

/// <summary>Validation of the names the platform routes by: tenant slugs and DNS host names.</summary>
public static partial class Names
{
    /// <summary>Longest tenant slug.</summary>
    public const int MaxSlugLength = 40;

    /// <summary>
    /// A slug is 3..40 lower-case letters, digits and single hyphens, starting with a letter and not
    /// ending with a hyphen; it is a DNS label (<c>{slug}.&lt;platform domain&gt;</c>) and a path segment.
    /// </summary>
    public static bool IsValidSlug(string? slug) => slug is not null && SlugRegex().IsMatch(slug);

    /// <summary>
    /// A DNS host name: labels of letters, digits and hyphens, at most 253 characters, at least two
    /// labels; a leading <c>*.</c> label is allowed when <paramref name="allowWildcard"/>.
    /// </summary>
    public static bool IsValidHostName(string? name, bool allowWildcard = false)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 253)
        {
            return false;
        }

        if (allowWildcard && name.StartsWith("*.", StringComparison.Ordinal))
        {
            name = name[2..];
        }

        return HostRegex().IsMatch(name);
    }

    [GeneratedRegex("^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){2,39}$", RegexOptions.CultureInvariant)]
    private static partial Regex SlugRegex();

    [GeneratedRegex("^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex HostRegex();
}
