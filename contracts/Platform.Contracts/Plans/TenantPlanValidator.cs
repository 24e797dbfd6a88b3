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

    private static void Range(List<FieldError> errors, string field, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            errors.Add(new(field, FieldErrorCodes.OutOfRange, $"Must be between {min} and {max}."));
        }
    }
}
