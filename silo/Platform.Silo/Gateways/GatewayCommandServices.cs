namespace Platform.Silo.Gateways;

/// <summary>Registration of the gateway command client.</summary>
internal static class GatewayCommandServices
{
    public static IServiceCollection AddGatewayCommands(this IServiceCollection services) =>
        services.AddSingleton<GatewayCommandClient>();
}
