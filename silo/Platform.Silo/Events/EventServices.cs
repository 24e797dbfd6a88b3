namespace Platform.Silo.Events;

/// <summary>Registers lifecycle event delivery: settings, the webhook client and the sender (which also prunes).</summary>
internal static class EventServices
{
    public static IServiceCollection AddLifecycleEvents(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection($"{PlatformOptions.Section}:{EventOptions.Section}").Get<EventOptions>() ?? new EventOptions();
        options.Validate();
        services.AddSingleton(options);
        services.AddSingleton<WebhookClient>();
        services.AddSingleton<WebhookTargets>();
        services.AddSingleton<WebhookSender>();
        if (options.SenderEnabled)
        {
            services.AddHostedService(sp => sp.GetRequiredService<WebhookSender>());
        }

        return services;
    }
}
