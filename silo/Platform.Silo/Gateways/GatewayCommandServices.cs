using Platform.Contracts.Http;

namespace Platform.Silo.Gateways;

/// <summary>Registration of the gateway command client.</summary>
internal static class GatewayCommandServices
{
    public static IServiceCollection AddGatewayCommands(this IServiceCollection services)
    {
        services.AddHttpClient(GatewayCommandClient.HttpClientName, client => client.Timeout = GatewayCommandClient.Timeout)
            .AddHttpMessageHandler(static () => new TransportFailureHandler());
        services.AddSingleton<GatewayCommandClient>();
        return services;
    }
}
