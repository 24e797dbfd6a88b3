namespace Platform.Silo.Tenants;

internal static class PortsApi
{
    public static RouteGroupBuilder MapPortsApi(this RouteGroupBuilder group) => group;
}
