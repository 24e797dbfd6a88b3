using System.Net;

namespace Platform.Gateway.Egress;

/// <summary>The system's resolver (<c>getaddrinfo</c>: /etc/hosts, then DNS), the default.</summary>
internal sealed class SystemEgressResolver : IEgressResolver
{
    public Task<IPAddress[]> ResolveAsync(string name, CancellationToken cancellationToken) => Dns.GetHostAddressesAsync(name, cancellationToken);
}
