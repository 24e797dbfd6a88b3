using System.ComponentModel.DataAnnotations;
using System.Net;

namespace Platform.Gateway.Admission;

/// <summary>Validates <c>Platform:DnsServers</c>: each entry an IP address with an optional port (<c>[v6]:port</c> for IPv6 with a port).</summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class DnsServerListAttribute : ValidationAttribute
{
    private const int DnsPort = 53;

    /// <summary>The servers as endpoints; an entry without a port gets 53.</summary>
    public static bool TryParse(IEnumerable<string> entries, out IReadOnlyList<IPEndPoint> servers, out string? error)
    {
        var parsed = new List<IPEndPoint>();
        servers = parsed;
        error = null;
        foreach (var entry in entries)
        {
            if (!IPEndPoint.TryParse(entry.Trim(), out var endPoint))
            {
                error = $"'{entry}' is not an IP address with an optional port.";
                return false;
            }

            parsed.Add(endPoint.Port == 0 ? new IPEndPoint(endPoint.Address, DnsPort) : endPoint);
        }

        return true;
    }

    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext)
    {
        ArgumentNullException.ThrowIfNull(validationContext);
        if (value is not IEnumerable<string> entries)
        {
            return ValidationResult.Success;
        }

        return TryParse(entries, out _, out var error)
            ? ValidationResult.Success
            : new ValidationResult($"{validationContext.MemberName}: {error}", [validationContext.MemberName ?? ""]);
    }
}
