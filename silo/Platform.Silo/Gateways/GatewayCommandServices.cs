using Platform.Contracts.Http;

namespace Platform.Silo.Gateways;

/// <summary>Registration of the gateway command client and the transport gateway grains use.</summary>
internal static class GatewayCommandServices
{
    public static IServiceCollection AddGatewayCommands(this IServiceCollection services)
    {
        services.AddHttpClient(GatewayHttpTransport.HttpClientName, client => client.Timeout = GatewayHttpTransport.Timeout)
            .AddHttpMessageHandler(static () => new TransportFailureHandler());
        services.AddSingleton<GatewayHttpTransport>();
        services.AddSingleton<GatewayCommandClient>();
        return services;
    }
}
