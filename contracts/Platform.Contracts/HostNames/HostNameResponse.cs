namespace Platform.Contracts.HostNames;

/// <summary>
/// One host name a tenant claims, and whether it routes. Names outside the platform domain route only once verified:
/// by a DNS TXT record named <c>challengeRecord</c> holding <c>challengeToken</c>, or by an operator's approval.
/// </summary>
/// <param name="Name">The host name, lower case; a wildcard starts with <c>*.</c>.</param>
/// <param name="Sources">Where the claim comes from: <c>platform</c> (the tenant's <c>{slug}.&lt;domain&gt;</c>), <c>config</c>, <c>certificate</c>.</param>
/// <param name="Status"><c>verified</c> (routes) or <c>pending</c> (routes nothing).</param>
/// <param name="ChallengeRecord">The TXT record that proves control, for example <c>_platform-challenge.api.example.com</c>; null for platform names.</param>
/// <param name="ChallengeToken">The value the TXT record must hold; null for platform names.</param>
/// <param name="VerifiedAt">When the name was verified.</param>
/// <param name="VerifiedBy"><c>dns</c>, <c>operator</c> or <c>platform</c>; null while pending.</param>
/// <param name="LastCheck">What the last DNS check found, when it failed.</param>
public sealed record HostNameResponse(
    string Name,
    IReadOnlyList<string> Sources,
    string Status,
    string? ChallengeRecord,
    string? ChallengeToken,
    DateTimeOffset? VerifiedAt,
    string? VerifiedBy,
    string? LastCheck);

/// <summary>Values of <see cref="HostNameResponse.Status"/>.</summary>
public static class HostNameStatuses
{
    /// <summary>Ownership proven; the name routes to the tenant.</summary>
    public const string Verified = "verified";
    /// <summary>Claimed but not proven; the name routes nothing.</summary>
    public const string Pending = "pending";
}

/// <summary>Values of <see cref="HostNameResponse.Sources"/>.</summary>
public static class HostNameSources
{
    /// <summary>The tenant's own name under the platform domain.</summary>
    public const string Platform = "platform";
    /// <summary>The configuration's <c>hostNames</c>.</summary>
    public const string Config = "config";
    /// <summary>A DNS name of one of the tenant's certificates.</summary>
    public const string Certificate = "certificate";
}
