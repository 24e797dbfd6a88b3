namespace Platform.Contracts.Config;

/// <summary>
/// Access lists in the IPWorks format: comma-separated host names or IP addresses with <c>*</c>
/// wildcards, extended with CIDR blocks and IPv6 addresses. A client matching
/// <c>blockedClients</c> is refused even if it also matches <c>allowedClients</c>.
/// </summary>
public sealed record AccessConfig
{
    /// <summary>Clients that may connect; <c>*</c> (the default) admits everyone.</summary>
    public string AllowedClients { get; init; } = "*";

    /// <summary>Clients that may not connect; empty (the default) blocks no one.</summary>
    public string BlockedClients { get; init; } = "";
}
