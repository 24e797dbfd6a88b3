using Platform.Contracts.Config;

namespace Platform.Gateway.Tenants;

/// <summary>A tenant's WebSocket policy, compiled.</summary>
internal sealed record WebSocketPolicy(
    string[] ExactOrigins,
    string[] WildcardOriginSuffixes,
    string[] SubProtocols,
    int MaxMessageSize,
    TimeSpan PingInterval,
    TimeSpan PongTimeout,
    bool PerMessageDeflate)
{
    public bool AnyOrigin => ExactOrigins.Length == 0 && WildcardOriginSuffixes.Length == 0;

    public static WebSocketPolicy Compile(WebSocketConfig config)
    {
        var exact = new List<string>();
        var wildcard = new List<string>();
        foreach (var origin in config.AllowedOrigins)
        {
            var star = origin.IndexOf("://*.", StringComparison.Ordinal);
            if (star > 0)
            {
                // "https://*.example.com" admits "https://a.example.com": keep scheme and the suffix after '*'.
                wildcard.Add(string.Concat(origin.AsSpan(0, star + 3), "\n", origin.AsSpan(star + 4)).ToLowerInvariant());
            }
            else
            {
                exact.Add(origin.ToLowerInvariant());
            }
        }

        return new WebSocketPolicy(
            [.. exact],
            [.. wildcard],
            [.. config.SubProtocols],
            config.MaxMessageSize,
            TimeSpan.FromSeconds(config.PingIntervalSeconds),
            TimeSpan.FromSeconds(config.PongTimeoutSeconds),
            config.PerMessageDeflate);
    }

    /// <summary>Whether an Origin header is admitted. A request without Origin (a non-browser client) is admitted.</summary>
    public bool IsOriginAllowed(string? origin)
    {
        if (AnyOrigin || string.IsNullOrEmpty(origin))
        {
            return true;
        }

        foreach (var allowed in ExactOrigins)
        {
            if (string.Equals(allowed, origin, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        foreach (var pattern in WildcardOriginSuffixes)
        {
            var split = pattern.IndexOf('\n', StringComparison.Ordinal);
            var scheme = pattern.AsSpan(0, split);
            var suffix = pattern.AsSpan(split + 1);
            if (origin.AsSpan().StartsWith(scheme, StringComparison.OrdinalIgnoreCase)
                && origin.Length > scheme.Length + suffix.Length
                && origin.AsSpan().EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The first of the tenant's sub-protocols the client offered, or null.</summary>
    public string? SelectSubProtocol(IList<string> offered)
    {
        foreach (var mine in SubProtocols)
        {
            for (var i = 0; i < offered.Count; i++)
            {
                if (string.Equals(mine, offered[i], StringComparison.Ordinal))
                {
                    return mine;
                }
            }
        }

        return null;
    }
}
