using Platform.Silo.Gateways;

namespace Platform.Silo.Internal;

/// <summary>Services gateways reach through their link grain: the registry, the config watch, events and commands.</summary>
internal static class InternalServices
{
    public static IServiceCollection AddGatewayServices(this IServiceCollection services)
    {
        services.AddSingleton<ConfigChangeSignal>();
        services.AddHostedService<ConfigChangeListener>();
        services.AddSingleton<GatewayRegistry>();
        services.AddSingleton<GatewayReaper>();
        services.AddHostedService(sp => sp.GetRequiredService<GatewayReaper>());
        services.AddSingleton<ConfigWatch>();
        services.AddSingleton<Quotas.LeaseSyncNotifier>();
        services.AddHostedService(sp => sp.GetRequiredService<Quotas.LeaseSyncNotifier>());
        services.AddSingleton<ConnectionEventWriter>();
        services.AddGatewayCommands();
        services.AddSingleton<Connections.ConnectionDirectory>();
        return services;
    }
}
