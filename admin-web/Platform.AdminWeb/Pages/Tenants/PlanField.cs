using Platform.Contracts.Plans;

namespace Platform.AdminWeb.Pages.Tenants;

/// <summary>
/// One ceiling of a tenant's plan as the detail page edits it: its JSON name (the silo's field name in errors), a label,
/// and what the tenant uses of it (a count, or the configuration settings the ceiling bounds).
/// </summary>
internal sealed record PlanField(string Name, string Label, Func<TenantPlan, int> Read, Func<TenantPlanUsage, int>? Used = null, string? Bounds = null)
{
    /// <summary>Every field of <see cref="TenantPlan"/>, in the order the page shows them.</summary>
    public static IReadOnlyList<PlanField> All { get; } =
    [
        new("maxConnections", "Max connections", static p => p.MaxConnections, Bounds: "limits.maxConnections"),
        new("connectionsPerSecond", "Connections per second", static p => p.ConnectionsPerSecond, Bounds: "limits.connectionsPerSecond (0 = this ceiling)"),
        new("maxMessageSize", "Max message size (bytes)", static p => p.MaxMessageSize, Bounds: "webSocket.maxMessageSize, framing.maxLineLength, framing.recordLength"),
        new("maxHalfOpenHandshakes", "Half-open handshakes (TLS, wss, DTLS)", static p => p.MaxHalfOpenHandshakes, Bounds: "limits.maxHalfOpenHandshakes, limits.maxHalfOpenHandshakesPerClient"),
        new("dedicatedPorts", "Dedicated ports", static p => p.DedicatedPorts, static u => u.DedicatedPorts),
        new("certificates", "Certificates", static p => p.Certificates, static u => u.Certificates),
        new("pskIdentities", "PSK identities", static p => p.PskIdentities, static u => u.PskIdentities),
        new("apiKeys", "Live API keys", static p => p.ApiKeys, static u => u.ApiKeys),
        new("hostNames", "Custom host names", static p => p.HostNames, static u => u.HostNames),
    ];

    /// <summary>The form field's name and the key of its errors.</summary>
    public string FormName => "plan." + Name;

    public string InputId => "plan-" + Name;

    /// <summary>A plan built from the form's values by field name; every field must be present.</summary>
    public static TenantPlan Build(IReadOnlyDictionary<string, int> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return new TenantPlan
        {
            MaxConnections = values["maxConnections"],
            ConnectionsPerSecond = values["connectionsPerSecond"],
            MaxMessageSize = values["maxMessageSize"],
            MaxHalfOpenHandshakes = values["maxHalfOpenHandshakes"],
            DedicatedPorts = values["dedicatedPorts"],
            Certificates = values["certificates"],
            PskIdentities = values["pskIdentities"],
            ApiKeys = values["apiKeys"],
            HostNames = values["hostNames"],
        };
    }
}
