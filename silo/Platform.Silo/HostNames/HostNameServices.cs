namespace Platform.Silo.HostNames;

/// <summary>Registers host-name proof: settings, the public suffix list (read once, at start), DNS checks and the start-up reconciliation.</summary>
internal static class HostNameServices
{
    /// <summary>Reads and validates the settings and the list now, so a missing list stops the silo before it serves.</summary>
    public static IServiceCollection AddHostNames(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection(PlatformOptions.Section).Get<HostNameOptions>() ?? new HostNameOptions();
        options.Validate();
        return services
            .AddSingleton(options)
            .AddSingleton(PublicSuffixList.Load(options.PublicSuffixListPath))
            .AddSingleton<ChallengeLookup>()
            .AddSingleton<CheckThrottle>()
            .AddHostedService<HostNameReconciler>();
    }
}
