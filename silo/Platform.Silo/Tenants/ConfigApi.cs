namespace Platform.Silo.Tenants;

internal static class ConfigApi
{
    public static RouteGroupBuilder MapConfigApi(this RouteGroupBuilder group) => group;
}
