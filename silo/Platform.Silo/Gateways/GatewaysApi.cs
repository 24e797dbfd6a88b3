namespace Platform.Silo.Gateways;

internal static class GatewaysApi
{
    public static RouteGroupBuilder MapGatewaysApi(this RouteGroupBuilder group) => group;
}
