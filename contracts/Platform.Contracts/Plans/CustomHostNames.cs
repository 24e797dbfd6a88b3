namespace Platform.Contracts.Plans;

/// <summary>
/// The host names a plan's <see cref="TenantPlan.HostNames"/> counts: configuration host names and certificate DNS names
/// outside the platform domain (the tenant's own <c>{slug}.&lt;domain&gt;</c> is free), each counted once whatever its case
/// and however many sources name it. A wildcard counts as one name.
/// </summary>
public static class CustomHostNames
{
    /// <summary>The distinct custom names among <paramref name="names"/>, lower-cased.</summary>
    public static IReadOnlySet<string> Of(IEnumerable<string> names, string platformDomain)
    {
        ArgumentNullException.ThrowIfNull(names);
        ArgumentException.ThrowIfNullOrEmpty(platformDomain);
        var domain = platformDomain.ToLowerInvariant();
        var result = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            var lower = name.ToLowerInvariant();
            if (lower != domain && !lower.EndsWith("." + domain, StringComparison.Ordinal))
            {
                result.Add(lower);
            }
        }

        return result;
    }
}
