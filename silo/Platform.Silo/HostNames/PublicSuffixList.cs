using System.Collections.Frozen;
using System.Globalization;

namespace Platform.Silo.HostNames;

/// <summary>
/// The Public Suffix List (publicsuffix.org, both its ICANN and its private sections): the suffixes under which
/// anyone may register names, such as <c>com</c>, <c>co.uk</c> or <c>github.io</c>. A wildcard directly under one
/// of them would claim every registrant's names at once. Implements the list's algorithm: plain rules, wildcard
/// rules (<c>*.ck</c>), exception rules (<c>!www.ck</c>, which win over everything) and the default rule <c>*</c>
/// (every top-level label is a public suffix). Rules are kept in ASCII (IDNA) form, as host names are compared.
/// </summary>
internal sealed class PublicSuffixList
{
    private readonly FrozenSet<string> _rules;
    private readonly FrozenSet<string> _wildcardParents;
    private readonly FrozenSet<string> _exceptions;

    private PublicSuffixList(HashSet<string> rules, HashSet<string> wildcardParents, HashSet<string> exceptions)
    {
        _rules = rules.ToFrozenSet(StringComparer.Ordinal);
        _wildcardParents = wildcardParents.ToFrozenSet(StringComparer.Ordinal);
        _exceptions = exceptions.ToFrozenSet(StringComparer.Ordinal);
    }

    /// <summary>Number of rules read, of every kind.</summary>
    public int RuleCount => _rules.Count + _wildcardParents.Count + _exceptions.Count;

    /// <summary>Reads the list from <paramref name="path"/>; a missing or empty file stops the caller with a message naming the setting.</summary>
    public static PublicSuffixList Load(string path)
    {
        if (string.IsNullOrWhiteSpace(path) || !File.Exists(path))
        {
            throw new InvalidOperationException(
                $"Platform:PublicSuffixListPath: the public suffix list '{path}' does not exist. Install Debian's 'publicsuffix' package " +
                "(it provides /usr/share/publicsuffix/public_suffix_list.dat) or point the setting at a copy of https://publicsuffix.org/list/public_suffix_list.dat.");
        }

        var list = Parse(File.ReadLines(path));
        if (list.RuleCount == 0)
        {
            throw new InvalidOperationException($"Platform:PublicSuffixListPath: '{path}' holds no public suffix rules.");
        }

        return list;
    }

    /// <summary>Parses the list's text format: one rule per line, the first word of the line; <c>//</c> comments.</summary>
    public static PublicSuffixList Parse(IEnumerable<string> lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        var idn = new IdnMapping();
        HashSet<string> rules = [], wildcards = [], exceptions = [];
        foreach (var line in lines)
        {
            var trimmed = line.AsSpan().Trim();
            var end = trimmed.IndexOfAny(' ', '\t');
            var rule = (end < 0 ? trimmed : trimmed[..end]).ToString();
            if (rule.Length == 0 || rule.StartsWith("//", StringComparison.Ordinal))
            {
                continue;
            }

            if (rule.StartsWith('!'))
            {
                exceptions.Add(Ascii(idn, rule[1..]));
            }
            else if (rule.StartsWith("*.", StringComparison.Ordinal))
            {
                wildcards.Add(Ascii(idn, rule[2..]));
            }
            else
            {
                rules.Add(Ascii(idn, rule));
            }
        }

        return new PublicSuffixList(rules, wildcards, exceptions);
    }

    /// <summary>The public suffix of <paramref name="domain"/> (lower-case ASCII, no trailing dot).</summary>
    public string PublicSuffixOf(string domain)
    {
        ArgumentException.ThrowIfNullOrEmpty(domain);
        // Candidate suffixes from the longest (the whole name) to the shortest (the last label).
        var starts = new List<int> { 0 };
        for (var i = 0; i < domain.Length; i++)
        {
            if (domain[i] == '.')
            {
                starts.Add(i + 1);
            }
        }

        foreach (var start in starts)
        {
            if (_exceptions.Contains(domain[start..]))
            {
                // An exception rule's public suffix is the rule without its leftmost label.
                var dot = domain.IndexOf('.', start);
                return dot < 0 ? domain[start..] : domain[(dot + 1)..];
            }
        }

        for (var k = 0; k < starts.Count; k++)
        {
            var suffix = domain[starts[k]..];
            if (_rules.Contains(suffix) || (k + 1 < starts.Count && _wildcardParents.Contains(domain[starts[k + 1]..])))
            {
                return suffix;
            }
        }

        return domain[starts[^1]..];
    }

    /// <summary>True when <paramref name="domain"/> is itself a public suffix (anyone can register names under it).</summary>
    public bool IsPublicSuffix(string domain) => string.Equals(PublicSuffixOf(domain), domain, StringComparison.Ordinal);

    /// <summary>True for a wildcard <c>*.x</c> whose parent <c>x</c> is a public suffix (<c>*.com</c>, <c>*.co.uk</c>).</summary>
    public bool IsWildcardOverPublicSuffix(string name) =>
        name.StartsWith("*.", StringComparison.Ordinal) && name[2..].TrimEnd('.').ToLowerInvariant() is { Length: > 0 } parent
        && IsPublicSuffix(parent);

    private static string Ascii(IdnMapping idn, string rule)
    {
        var lower = rule.ToLowerInvariant();
        return lower.All(char.IsAscii) ? lower : idn.GetAscii(lower).ToLowerInvariant();
    }
}
