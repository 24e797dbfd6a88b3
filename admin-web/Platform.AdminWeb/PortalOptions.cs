using System.Net;
using Platform.Contracts.Egress;

namespace Platform.AdminWeb;

/// <summary>Portal settings, bound from the <c>Platform</c> section (env <c>Platform__SiloUrl</c>, <c>Platform__OperatorKey</c>).</summary>
public sealed class PortalOptions
{
    public const string Section = "Platform";

    /// <summary>Base URL of the silo REST API.</summary>
    public string SiloUrl { get; set; } = "http://127.0.0.1:5080";

    /// <summary>The operator key the portal calls the silo with; never shown to anyone.</summary>
    public string OperatorKey { get; set; } = "";

    /// <summary>Hours a sign-in lasts without activity.</summary>
    public int SessionHours { get; set; } = 8;

    /// <summary>
    /// Addresses of reverse proxies whose <c>X-Forwarded-For</c> and <c>X-Forwarded-Proto</c> are believed
    /// (env <c>Platform__KnownProxies__0</c>, …). Empty: forwarded headers are ignored from everyone.
    /// </summary>
    public string[] KnownProxies { get; set; } = [];

    /// <summary>Networks (CIDR, <c>10.0.0.0/8</c>) of such proxies, for proxies without a fixed address.</summary>
    public string[] KnownNetworks { get; set; } = [];

    /// <summary>
    /// The operator's egress ranges, the same as the silo's and the gateways' (<c>Platform:Egress:AllowedRanges</c> /
    /// <c>DeniedRanges</c>): the "test connection" buttons refuse what the gateways would refuse.
    /// </summary>
    public EgressOptions Egress { get; set; } = new();

    /// <summary>
    /// URLs of the admin listener (<c>/metrics</c>, <c>/healthz</c>), separated by <c>;</c>: plain <c>http://</c> on an
    /// address only the operator's network reaches; port 0 picks a free port.
    /// </summary>
    public string AdminUrls { get; set; } = "http://127.0.0.1:5001";

    public void Validate()
    {
        foreach (var url in (AdminUrls ?? "").Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).DefaultIfEmpty(""))
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var admin) || admin.Scheme != Uri.UriSchemeHttp || admin.AbsolutePath != "/")
            {
                throw new InvalidOperationException($"Platform:AdminUrls: '{url}' is not an http://address:port URL.");
            }
        }

        if (!Uri.TryCreate(SiloUrl, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new InvalidOperationException("Platform:SiloUrl must be an absolute http or https URL.");
        }

        if (string.IsNullOrWhiteSpace(OperatorKey))
        {
            throw new InvalidOperationException("Platform:OperatorKey is required (a file Platform__OperatorKey in PLATFORM_SECRETS_DIR, or env Platform__OperatorKey).");
        }

        if (SessionHours is < 1 or > 24 * 7)
        {
            throw new InvalidOperationException("Platform:SessionHours must be between 1 and 168.");
        }

        if ((Egress ?? new EgressOptions()).Validate() is { Count: > 0 } egressErrors)
        {
            throw new InvalidOperationException($"Platform:Egress: {string.Join(" ", egressErrors)}");
        }

        foreach (var proxy in KnownProxies)
        {
            if (!IPAddress.TryParse(proxy, out _))
            {
                throw new InvalidOperationException($"Platform:KnownProxies: '{proxy}' is not an IP address.");
            }
        }

        foreach (var network in KnownNetworks)
        {
            if (!IPNetwork.TryParse(network, out _))
            {
                throw new InvalidOperationException($"Platform:KnownNetworks: '{network}' is not a network in CIDR form (such as 10.0.0.0/8).");
            }
        }
    }
}
