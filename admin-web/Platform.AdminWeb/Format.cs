using System.Globalization;

namespace Platform.AdminWeb;

/// <summary>How times and sizes read on every page.</summary>
public static class Format
{
    public static string Time(DateTimeOffset? value) =>
        value is { } v ? v.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture) : "—";

    public static string Age(TimeSpan age) => age.TotalSeconds switch
    {
        < 0 => "0 s",
        < 120 => $"{age.TotalSeconds:0} s",
        < 7200 => $"{age.TotalMinutes:0} min",
        < 172800 => $"{age.TotalHours:0} h",
        _ => $"{age.TotalDays:0} d",
    };

    public static string Bytes(long value) => value switch
    {
        < 1024 => $"{value} B",
        < 1024 * 1024 => $"{value / 1024.0:0.#} KiB",
        < 1024L * 1024 * 1024 => $"{value / (1024.0 * 1024):0.#} MiB",
        _ => $"{value / (1024.0 * 1024 * 1024):0.#} GiB",
    };

    /// <summary>What a gateway refusal reason means, for people.</summary>
    public static string RefusalReason(string reason) => reason switch
    {
        "unknown_tenant" => "no tenant at that host, SNI name or path",
        "suspended" => "tenant suspended",
        "draining" => "gateway draining",
        "blocked" => "client in BlockedClients",
        "not_allowed" => "client not in AllowedClients",
        "rate_limited" => "connection rate limit",
        "per_client_limit" => "too many connections from one client",
        "max_connections" => "MaxConnections reached",
        "origin_not_allowed" => "WebSocket Origin not allowed",
        "backend_unreachable" => "forward backend unreachable",
        "bad_request" => "not a WebSocket upgrade",
        "tls_failed" => "TLS handshake refused or failed",
        "backend_forbidden" => "forward target refused by the egress policy",
        "protocol_not_allowed" => "listener kind the tenant does not accept",
        "half_open_limit" => "too many unfinished handshakes",
        "reverse_dns_pending" => "client's host names not confirmed yet",
        _ => reason.Replace('_', ' '),
    };
}
