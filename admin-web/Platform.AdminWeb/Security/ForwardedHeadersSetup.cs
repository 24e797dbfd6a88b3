using System.Net;
using Microsoft.AspNetCore.HttpOverrides;

namespace Platform.AdminWeb.Security;

/// <summary>
/// Which peers may tell the portal the client's address and scheme. A TLS-terminating proxy says
/// <c>X-Forwarded-Proto: https</c>, which makes the request HTTPS: cookies get <c>Secure</c> and HSTS is sent.
/// Only the configured proxies are believed; the framework's default (any loopback peer) is dropped, so a
/// local process cannot claim HTTPS or another client address.
/// </summary>
internal static class ForwardedHeadersSetup
{
    public static void Configure(ForwardedHeadersOptions forwarded, PortalOptions options)
    {
        ArgumentNullException.ThrowIfNull(forwarded);
        ArgumentNullException.ThrowIfNull(options);
        // The Host header is not taken from a proxy: AllowedHosts checks the one the request arrived with.
        forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
        forwarded.KnownProxies.Clear();
        forwarded.KnownIPNetworks.Clear();
        foreach (var proxy in options.KnownProxies)
        {
            forwarded.KnownProxies.Add(IPAddress.Parse(proxy));
        }

        foreach (var network in options.KnownNetworks)
        {
            forwarded.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
        }
    }
}
