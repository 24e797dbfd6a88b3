using Microsoft.AspNetCore.Authentication;
using Platform.Silo.Gateways;

namespace Platform.Silo.Internal;

/// <summary>Services of the internal API, the gateway registry and gateway commands.</summary>
internal static class InternalServices
{
    public static IServiceCollection AddInternalApi(this IServiceCollection services)
    {
        services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, ClusterSecretAuthenticationHandler>(ClusterSecretAuthenticationHandler.SchemeName, null);
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
