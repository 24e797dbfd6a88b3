using Platform.Contracts.Config;

namespace Platform.Contracts.Plans;

/// <summary>
/// The configuration a gateway applies: the tenant's own values capped by its plan. The tenant's stored configuration is
/// never rewritten, so lowering a plan takes effect at once and raising it again restores the tenant's own values.
/// </summary>
public static class EffectiveConfig
{
    /// <summary>
    /// <paramref name="config"/> with every value the plan bounds capped at its ceiling; a
    /// <c>limits.connectionsPerSecond</c> of 0 (no limit of the tenant's own) becomes the plan's ceiling.
    /// </summary>
    public static TenantConfig Apply(TenantConfig config, TenantPlan plan)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(plan);
        var limits = config.Limits;
        return config with
        {
            Limits = limits with
            {
                MaxConnections = MaxConnections(config, plan),
                ConnectionsPerSecond = limits.ConnectionsPerSecond == 0
                    ? plan.ConnectionsPerSecond
                    : Math.Min(limits.ConnectionsPerSecond, plan.ConnectionsPerSecond),
                MaxHalfOpenHandshakes = Math.Min(limits.MaxHalfOpenHandshakes, plan.MaxHalfOpenHandshakes),
                MaxHalfOpenHandshakesPerClient = Math.Min(limits.MaxHalfOpenHandshakesPerClient, plan.MaxHalfOpenHandshakes),
            },
            WebSocket = config.WebSocket with { MaxMessageSize = Math.Min(config.WebSocket.MaxMessageSize, plan.MaxMessageSize) },
            Framing = config.Framing with
            {
                MaxLineLength = Math.Min(config.Framing.MaxLineLength, plan.MaxMessageSize),
                RecordLength = Math.Min(config.Framing.RecordLength, plan.MaxMessageSize),
            },
        };
    }

    /// <summary>The MaxConnections leases are granted against: the tenant's value capped by the plan.</summary>
    public static int MaxConnections(TenantConfig config, TenantPlan plan)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(plan);
        return Math.Min(config.Limits.MaxConnections, plan.MaxConnections);
    }
}
