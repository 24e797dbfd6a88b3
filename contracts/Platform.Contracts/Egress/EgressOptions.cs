using System.Net;

namespace Platform.Contracts.Egress;

/// <summary>
/// The operator's egress settings, bound from <c>Platform:Egress</c> in the silo and in every gateway (set both the
/// same). Each entry is a CIDR range or a single address; an entry may also hold several, separated by commas or
/// spaces (convenient in environment variables), and empty entries are ignored.
/// </summary>
public sealed class EgressOptions
{
    /// <summary>The configuration section, under <c>Platform</c>.</summary>
    public const string Section = "Egress";

    /// <summary>
    /// Ranges of otherwise refused classes that tenants may reach, for example <c>10.20.0.0/16</c> for an internal backend
    /// network. Never re-allows unspecified, multicast or broadcast addresses.
    /// </summary>
    public List<string> AllowedRanges { get; set; } = [];

    /// <summary>Ranges no tenant may reach, public or not; they win over <see cref="AllowedRanges"/>.</summary>
    public List<string> DeniedRanges { get; set; } = [];

    /// <summary>Every problem of the settings, each naming its setting; empty when they are valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        Parse(AllowedRanges, nameof(AllowedRanges), errors);
        Parse(DeniedRanges, nameof(DeniedRanges), errors);
        return errors;
    }

    /// <summary>The policy these settings describe; throws <see cref="InvalidOperationException"/> naming every bad entry.</summary>
    public EgressPolicy ToPolicy()
    {
        var errors = new List<string>();
        var allowed = Parse(AllowedRanges, nameof(AllowedRanges), errors);
        var denied = Parse(DeniedRanges, nameof(DeniedRanges), errors);
        return errors.Count == 0 ? new EgressPolicy(allowed, denied) : throw new InvalidOperationException(string.Join(" ", errors));
    }

    private static List<IPNetwork> Parse(List<string>? entries, string setting, List<string> errors)
    {
        var ranges = new List<IPNetwork>();
        foreach (var entry in entries ?? [])
        {
            foreach (var item in (entry ?? "").Split([',', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
            {
                if (EgressPolicy.TryParseRange(item, out var range, out var error))
                {
                    ranges.Add(range);
                }
                else
                {
                    errors.Add($"Platform:{Section}:{setting}: {error}");
                }
            }
        }

        return ranges;
    }
}
