using Microsoft.AspNetCore.Http;
using Platform.Gateway.Tenants;

namespace Platform.Gateway.WebSockets;

/// <summary>
/// Finds the tenant of a WebSocket request, first match wins: the tenant chosen by SNI during the
/// TLS handshake, the Host header (<c>{slug}.{domain}</c> or a custom name), then the path prefix
/// <c>/t/{slug}/</c>.
/// </summary>
internal static class TenantResolver
{
    public static TenantRuntime? Resolve(GatewaySnapshot snapshot, string? sni, string? host, PathString path, out bool byPath)
    {
        byPath = false;
        if (snapshot.ByHost(sni) is { } bySni)
        {
            return bySni;
        }

        if (host is { Length: > 0 })
        {
            var hostOnly = StripPort(host);
            if (snapshot.ByHost(hostOnly) is { } byHost)
            {
                return byHost;
            }
        }

        var value = path.Value;
        if (value is { Length: > 3 } && value.StartsWith("/t/", StringComparison.Ordinal))
        {
            var rest = value.AsSpan(3);
            var end = rest.IndexOf('/');
            var slug = end < 0 ? rest : rest[..end];
            if (snapshot.BySlug.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(slug, out var bySlug))
            {
                byPath = true;
                return bySlug;
            }
        }

        return null;
    }

    private static ReadOnlySpan<char> StripPort(string host)
    {
        var span = host.AsSpan();
        if (span.StartsWith("["))
        {
            var close = span.IndexOf(']');
            return close > 0 ? span[1..close] : span;
        }

        var colon = span.LastIndexOf(':');
        return colon >= 0 ? span[..colon] : span;
    }
}
