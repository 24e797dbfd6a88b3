using Platform.Contracts.Config;
using Platform.Contracts.Problems;

namespace Platform.Contracts.Plans;

/// <summary>Validates a <see cref="TenantPlan"/> and a tenant configuration against one.</summary>
public static class TenantPlanValidator
{
    /// <summary>Returns every range failure of <paramref name="plan"/>, with field paths under <paramref name="prefix"/>.</summary>
    public static IReadOnlyList<FieldError> Validate(TenantPlan plan, string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(plan);
        var errors = new List<FieldError>();
        Range(errors, prefix + "maxConnections", plan.MaxConnections, 1, LimitsConfig.MaxMaxConnections);
        Range(errors, prefix + "connectionsPerSecond", plan.ConnectionsPerSecond, 1, 100_000);
        Range(errors, prefix + "maxMessageSize", plan.MaxMessageSize, FramingConfig.MinMaxLineLength, TenantConfigValidator.MaxWebSocketMessageSize);
        Range(errors, prefix + "maxHalfOpenHandshakes", plan.MaxHalfOpenHandshakes, 1, 100_000);
        Range(errors, prefix + "dedicatedPorts", plan.DedicatedPorts, 0, 1000);
        Range(errors, prefix + "certificates", plan.Certificates, 0, 1000);
        Range(errors, prefix + "pskIdentities", plan.PskIdentities, 0, 1_000_000);
        Range(errors, prefix + "apiKeys", plan.ApiKeys, 0, 1000);
        Range(errors, prefix + "hostNames", plan.HostNames, 0, 1000);
        return errors;
    }

    /// <summary>
    /// Returns a failure with code <see cref="FieldErrorCodes.AbovePlan"/>, naming the ceiling, for every value of
    /// <paramref name="config"/> above <paramref name="plan"/>; field paths carry <paramref name="prefix"/>. The
    /// configuration is expected to have passed <see cref="TenantConfigValidator.Validate"/>.
    /// </summary>
    public static IReadOnlyList<FieldError> ValidateConfig(TenantConfig config, TenantPlan plan, string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(plan);
        var errors = new List<FieldError>();
        var limits = config.Limits;
        Ceiling(errors, prefix + "limits.maxConnections", limits.MaxConnections, plan.MaxConnections);
        Ceiling(errors, prefix + "limits.connectionsPerSecond", limits.ConnectionsPerSecond, plan.ConnectionsPerSecond);
        Ceiling(errors, prefix + "limits.maxHalfOpenHandshakes", limits.MaxHalfOpenHandshakes, plan.MaxHalfOpenHandshakes);
        Ceiling(errors, prefix + "limits.maxHalfOpenHandshakesPerClient", limits.MaxHalfOpenHandshakesPerClient, plan.MaxHalfOpenHandshakes);
        Ceiling(errors, prefix + "webSocket.maxMessageSize", config.WebSocket.MaxMessageSize, plan.MaxMessageSize);
        Ceiling(errors, prefix + "framing.maxLineLength", config.Framing.MaxLineLength, plan.MaxMessageSize);
        Ceiling(errors, prefix + "framing.recordLength", config.Framing.RecordLength, plan.MaxMessageSize);
        return errors;
    }

    private static void Ceiling(List<FieldError> errors, string field, int value, int ceiling)
    {
        if (value > ceiling)
        {
            errors.Add(new(field, FieldErrorCodes.AbovePlan, $"The tenant's plan allows at most {ceiling}."));
        }
    }

    private static void Range(List<FieldError> errors, string field, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            errors.Add(new(field, FieldErrorCodes.OutOfRange, $"Must be between {min} and {max}."));
        }
    }
}
